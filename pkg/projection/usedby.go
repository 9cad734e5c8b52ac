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
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

// UsedByOf is the record of the VMInstances that attach a VMDisk, kept on
// its DataVolume; false when there is none yet.
func UsedByOf(meta *metav1.ObjectMeta) ([]string, bool) {
	raw, ok := meta.Annotations[backendnames.UsedByAnnotation]
	if !ok || raw == "" {
		return nil, ok
	}
	return strings.Split(raw, ","), true
}

// RecordUsedBy records users (sorted) on meta.
func RecordUsedBy(meta *metav1.ObjectMeta, users []string) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[backendnames.UsedByAnnotation] = strings.Join(users, ",")
}

// UsedByRecorded tells whether meta records exactly users (sorted); no
// record counts as no users.
func UsedByRecorded(meta *metav1.ObjectMeta, users []string) bool {
	recorded, _ := UsedByOf(meta)
	return strings.Join(recorded, ",") == strings.Join(users, ",")
}
