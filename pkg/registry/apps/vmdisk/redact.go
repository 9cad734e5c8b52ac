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

package vmdisk

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/credentials"
)

// keepStoredCredentials makes credential header values write-once: they
// read back redacted, so an update restating the redacted value, or the
// original one, keeps what is stored (the source is immutable anyway).
func keepStoredCredentials(disk, old *apps.VMDisk) {
	newHTTP, oldHTTP := disk.Spec.Source.HTTP, old.Spec.Source.HTTP
	if newHTTP == nil || oldHTTP == nil {
		return
	}
	for name, value := range oldHTTP.Headers {
		if _, ok := newHTTP.Headers[name]; ok && value == credentials.RedactedHeaderValue {
			newHTTP.Headers[name] = value
		}
	}
	// The same for the password of URL userinfo: a URL that differs from
	// the stored one only in its password (the redacted marker, or the
	// original) keeps the stored one. A different username, host or path
	// is still a change of the immutable source.
	if _, _, _, _, ok := credentials.SplitURLUserinfo(oldHTTP.URL); ok && credentials.RedactURL(newHTTP.URL) == oldHTTP.URL {
		newHTTP.URL = oldHTTP.URL
	}
}

// redactLastApplied removes credential header values and the password of
// URL userinfo from the manifest kubectl apply keeps in an annotation, which
// every reader of the VMDisk sees; kubectl's next three-way merge still
// works, since the stored values are kept (keepStoredCredentials).
func redactLastApplied(disk *apps.VMDisk) {
	raw, ok := disk.Annotations[corev1.LastAppliedConfigAnnotation]
	if !ok {
		return
	}
	var manifest map[string]interface{}
	if err := json.Unmarshal([]byte(raw), &manifest); err != nil {
		return
	}
	http, ok := lookupMap(manifest, "spec", "source", "http")
	if !ok {
		return
	}
	changed := false
	if headers, ok := lookupMap(http, "headers"); ok {
		for name := range headers {
			if credentials.IsCredentialHeader(name) && headers[name] != credentials.RedactedHeaderValue {
				headers[name] = credentials.RedactedHeaderValue
				changed = true
			}
		}
	}
	if raw, ok := http["url"].(string); ok {
		if redacted := credentials.RedactURL(raw); redacted != raw {
			http["url"] = redacted
			changed = true
		}
	}
	if !changed {
		return
	}
	if redacted, err := json.Marshal(manifest); err == nil {
		disk.Annotations[corev1.LastAppliedConfigAnnotation] = string(redacted) + "\n"
	}
}

func lookupMap(m map[string]interface{}, path ...string) (map[string]interface{}, bool) {
	for _, key := range path {
		next, ok := m[key].(map[string]interface{})
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}
