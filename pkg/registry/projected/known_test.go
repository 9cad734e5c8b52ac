package projected

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
