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

// Package validation checks VMInstances and VMDisks against the API contract.
// Every function returns a field.ErrorList whose paths name the offending
// field of the public object.
package validation

import (
	"slices"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// validateObjectMeta checks the metadata of a new object. Names are DNS
// labels because they become names of backend objects, volumes and label
// values, which allow no more. ownFinalizers are the reserved finalizers
// vm-apiserver itself puts on objects of the kind.
func validateObjectMeta(meta *metav1.ObjectMeta, ownFinalizers ...string) field.ErrorList {
	fldPath := field.NewPath("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMeta(meta, true, apimachineryvalidation.NameIsDNSLabel, fldPath)
	return append(allErrs, validateReservedKeys(meta, fldPath, ownFinalizers)...)
}

// validateObjectMetaUpdate checks metadata changes on update.
func validateObjectMetaUpdate(meta, old *metav1.ObjectMeta, ownFinalizers ...string) field.ErrorList {
	fldPath := field.NewPath("metadata")
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(meta, old, fldPath)
	return append(allErrs, validateReservedKeys(meta, fldPath, ownFinalizers)...)
}

func validateReservedKeys(meta *metav1.ObjectMeta, fldPath *field.Path, ownFinalizers []string) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range meta.Finalizers {
		if backendnames.IsReservedKey(f) && !slices.Contains(ownFinalizers, f) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("finalizers").Index(i), "the prefix "+backendnames.ReservedPrefix+" is reserved for vm-apiserver"))
		}
	}
	for key := range meta.Labels {
		if backendnames.IsReservedKey(key) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("labels").Key(key), "the prefix "+backendnames.ReservedPrefix+" is reserved for vm-apiserver"))
		}
	}
	for key := range meta.Annotations {
		if backendnames.IsReservedKey(key) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("annotations").Key(key), "the prefix "+backendnames.ReservedPrefix+" is reserved for vm-apiserver"))
		}
	}
	return allErrs
}
