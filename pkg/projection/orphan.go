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
