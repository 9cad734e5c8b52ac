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
	"encoding/json"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// OwnedVersions are the recorded versions of a VM's owned objects by
// "Kind/name"; an object not in them has no recorded version.
type OwnedVersions map[string]string

// OwnedKey names an owned object in OwnedVersions.
func OwnedKey(kind, name string) string { return kind + "/" + name }

// OwnedVersionsOf reads the versions recorded on meta; an unreadable record
// counts as none.
func OwnedVersionsOf(meta *metav1.ObjectMeta) OwnedVersions {
	out := OwnedVersions{}
	if raw, ok := meta.Annotations[backendnames.OwnedVersionsAnnotation]; ok {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return out
}

// Record sets the recorded versions on meta.
func (v OwnedVersions) Record(meta *metav1.ObjectMeta) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[backendnames.OwnedVersionsAnnotation] = v.Annotation()
}

// Annotation is the value of the annotation that records v.
func (v OwnedVersions) Annotation() string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// Freshness is how new a cached copy of an owned object must be to show
// the last write: unknown (any copy will do), absent, or at least a
// resourceVersion.
type Freshness struct {
	Known   bool
	Absent  bool
	Version uint64
}

// Freshness is what the record says of the object key.
func (v OwnedVersions) Freshness(key string) Freshness {
	rv, ok := v[key]
	if !ok {
		return Freshness{}
	}
	return FreshnessOf(rv)
}

// FreshnessOf is the freshness a resourceVersion asks for ("": absent).
// Versions that are not revisions cannot be compared and ask for nothing.
func FreshnessOf(rv string) Freshness {
	if rv == "" {
		return Freshness{Known: true, Absent: true}
	}
	n, ok := revision(rv)
	if !ok {
		return Freshness{}
	}
	return Freshness{Known: true, Version: n}
}

// SatisfiedBy tells whether a cached copy (nil: none) is new enough.
func (f Freshness) SatisfiedBy(cached metav1.Object) bool {
	switch {
	case !f.Known:
		return true
	case cached == nil:
		return f.Absent
	case f.Absent:
		return false
	}
	n, ok := revision(cached.GetResourceVersion())
	return !ok || n >= f.Version
}

// Covers tells whether the record of key holds current (nil: absent) or a
// newer state: the opposite question to Freshness, asked by whoever
// records a change rather than by a read. Versions that are not revisions
// cover only themselves.
func (v OwnedVersions) Covers(key string, current metav1.Object) bool {
	recorded, ok := v[key]
	if current == nil {
		return !ok || recorded == ""
	}
	if !ok || recorded == "" {
		return false
	}
	want, wantOK := revision(recorded)
	have, haveOK := revision(current.GetResourceVersion())
	if !wantOK || !haveOK {
		return recorded == current.GetResourceVersion()
	}
	return want >= have
}

// revision is rv as an etcd revision; ok is false for a version that is
// not one.
func revision(rv string) (uint64, bool) {
	n, err := strconv.ParseUint(rv, 10, 64)
	return n, err == nil
}
