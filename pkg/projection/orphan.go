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

package projection

import (
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Orphans says whether a delete with options leaves the object's
// dependents behind (propagation policy Orphan, or the older
// orphanDependents).
func Orphans(options metav1.DeleteOptions) bool {
	if options.PropagationPolicy != nil {
		return *options.PropagationPolicy == metav1.DeletePropagationOrphan
	}
	return options.OrphanDependents != nil && *options.OrphanDependents
}

// OwnedRevisions are the names of the ControllerRevisions among revisions
// that owner controls (KubeVirt's record of a VM's instance type,
// preference and start).
func OwnedRevisions(owner metav1.Object, revisions []appsv1.ControllerRevision) []string {
	var names []string
	for i := range revisions {
		if ref := metav1.GetControllerOf(&revisions[i]); ref != nil && ref.UID == owner.GetUID() {
			names = append(names, revisions[i].Name)
		}
	}
	return names
}
