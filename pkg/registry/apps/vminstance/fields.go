/*
Copyright The vm-apiserver Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

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
