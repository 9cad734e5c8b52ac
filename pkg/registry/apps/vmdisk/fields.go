package vmdisk

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// fieldSet is what a VMDisk can be selected by; v1alpha1 registers the
// same labels.
func fieldSet(obj runtime.Object) fields.Set {
	disk := obj.(*apps.VMDisk)
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status.phase":      disk.Status.Phase,
		"spec.storageClass": disk.Spec.StorageClass,
	}, &disk.ObjectMeta, true)
}
