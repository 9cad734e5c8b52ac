package vmdisk

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/projection"
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
		if _, ok := newHTTP.Headers[name]; ok && value == projection.RedactedHeaderValue {
			newHTTP.Headers[name] = value
		}
	}
}

// redactLastApplied removes credential header values from the manifest
// kubectl apply keeps in an annotation, which every reader of the VMDisk
// sees; kubectl's next three-way merge still works, since the stored value
// is kept (keepStoredCredentials).
func redactLastApplied(disk *apps.VMDisk) {
	raw, ok := disk.Annotations[corev1.LastAppliedConfigAnnotation]
	if !ok {
		return
	}
	var manifest map[string]interface{}
	if err := json.Unmarshal([]byte(raw), &manifest); err != nil {
		return
	}
	headers, ok := lookupMap(manifest, "spec", "source", "http", "headers")
	if !ok {
		return
	}
	changed := false
	for name := range headers {
		if projection.IsCredentialHeader(name) {
			headers[name] = projection.RedactedHeaderValue
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
