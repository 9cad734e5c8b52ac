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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

func object(uid, rv string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv}
}

func TestKnownObjects(t *testing.T) {
	fromList := newKnownObjects("100")
	if !fromList.has(object("old", "90")) || !fromList.has(object("same", "100")) {
		t.Error("objects at or before the start are the caller's from its list")
	}
	created := object("new", "120")
	if fromList.has(created) {
		t.Error("an object created after the start is unknown until its ADDED is sent")
	}
	fromList.record(watch.Added, created)
	if !fromList.has(object("new", "130")) {
		t.Error("an object sent on the watch is known in later versions")
	}
	fromList.record(watch.Deleted, created)
	if fromList.has(object("new", "140")) {
		t.Error("a deleted object is no longer known")
	}

	fromNothing := newKnownObjects("0")
	if fromNothing.has(object("old", "5")) {
		t.Error("a watch from 0 introduces every object itself")
	}
	if opaque := newKnownObjects("not-a-revision"); !opaque.has(object("any", "120")) {
		t.Error("without comparable versions every object counts as known")
	}
}
