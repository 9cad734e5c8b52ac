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

package backendstore

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// knownObjects tracks which primary objects the caller of a watch has: those
// it had where the watch started (resourceVersion at most upTo), and those
// the watch has sent since. kube-apiserver's resourceVersions are etcd
// revisions, so they compare.
type knownObjects struct {
	upTo uint64
	// comparable is false when the start was not a revision: then every
	// object counts as known, as before this tracking.
	comparable bool
	sent       map[types.UID]bool
}

// newKnownObjects starts at resourceVersion from; "0" means the caller has
// nothing yet.
func newKnownObjects(from string) *knownObjects {
	upTo, err := strconv.ParseUint(from, 10, 64)
	return &knownObjects{upTo: upTo, comparable: err == nil, sent: map[types.UID]bool{}}
}

// record notes a primary object's event on the watch.
func (k *knownObjects) record(event watch.EventType, obj metav1.Object) {
	switch event {
	case watch.Added, watch.Modified:
		k.sent[obj.GetUID()] = true
	case watch.Deleted:
		delete(k.sent, obj.GetUID())
	}
}

// has tells whether the caller has obj in some version.
func (k *knownObjects) has(obj metav1.Object) bool {
	if !k.comparable || k.sent[obj.GetUID()] {
		return true
	}
	rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64)
	return err != nil || rv <= k.upTo
}
