package vminstance

import (
	"strconv"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// fieldSet is what a VMInstance can be selected by; v1alpha1 registers the
// same labels.
func fieldSet(obj runtime.Object) fields.Set {
	inst := obj.(*apps.VMInstance)
	running := inst.Spec.Running == nil || *inst.Spec.Running
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"spec.running":         strconv.FormatBool(running),
		"spec.instanceType":    inst.Spec.InstanceType,
		"spec.instanceProfile": inst.Spec.InstanceProfile,
		"status.phase":         inst.Status.Phase,
	}, &inst.ObjectMeta, true)
}
