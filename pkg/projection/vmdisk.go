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
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/credentials"
)

const (
	// ConditionTerminating is the VMDisk condition, True while a deleted
	// VMDisk waits for the VMInstances that attach it to let it go; its
	// message names them.
	ConditionTerminating = "Terminating"
	// headerSecretKeyPrefix names the Secret's keys, one header each, as
	// CDI's secretExtraHeaders reads them ("Name: value").
	headerSecretKeyPrefix = "header"
)

// HeadersSecretFor is the Secret holding disk's credential headers, or nil
// when it has none. The caller adds the owner reference to the DataVolume.
func HeadersSecretFor(disk *apps.VMDisk) *corev1.Secret {
	if disk.Spec.Source.HTTP == nil {
		return nil
	}
	data := map[string][]byte{}
	for i, line := range headerLines(credentialHeaders(disk.Spec.Source.HTTP.Headers, true)) {
		data[headerSecretKeyPrefix+fmt.Sprint(i)] = []byte(line)
	}
	if len(data) == 0 {
		return nil
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: backendnames.HeadersSecretName(disk.Name), Namespace: disk.Namespace, Labels: map[string]string{backendnames.KindLabel: backendnames.VMDiskKind}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// credentialHeaders are the headers that are (isCredential true) or are not
// credentials.
func credentialHeaders(headers map[string]string, isCredential bool) map[string]string {
	out := map[string]string{}
	for name, value := range headers {
		if credentials.IsCredentialHeader(name) == isCredential {
			out[name] = value
		}
	}
	return out
}

// HasFinalizer says whether finalizers hold name.
func HasFinalizer(finalizers []string, name string) bool {
	for _, f := range finalizers {
		if f == name {
			return true
		}
	}
	return false
}

// WithFinalizer is finalizers with name present (want) or absent, in
// their order; it returns finalizers itself when nothing changes.
func WithFinalizer(finalizers []string, name string, want bool) []string {
	if HasFinalizer(finalizers, name) == want {
		return finalizers
	}
	if want {
		return append(append([]string(nil), finalizers...), name)
	}
	var out []string
	for _, f := range finalizers {
		if f != name {
			out = append(out, f)
		}
	}
	return out
}

// InUseCondition is the Terminating condition of a deleted VMDisk that the
// VMInstances users still attach, or nil when it is not deleted or nothing
// attaches it.
func InUseCondition(dv *cdiv1.DataVolume, users []string) *metav1.Condition {
	if dv.DeletionTimestamp == nil || len(users) == 0 || !HasFinalizer(dv.Finalizers, backendnames.InUseProtectionFinalizer) {
		return nil
	}
	noun := "VMInstance"
	if len(users) > 1 {
		noun = "VMInstances"
	}
	return &metav1.Condition{
		Type:               ConditionTerminating,
		Status:             metav1.ConditionTrue,
		Reason:             "InUse",
		Message:            fmt.Sprintf("the disk is deleted once no VMInstance attaches it; still attached to %s %s", noun, strings.Join(users, ", ")),
		LastTransitionTime: *dv.DeletionTimestamp,
	}
}

// DataVolumeFor is the DataVolume that stores disk. existing is the current
// DataVolume on update (its other fields are kept) and nil on create. An
// update changes the DataVolume's metadata only: its spec stays as created
// and a grown size is recorded (GrownStorageAnnotation) for the claim to
// follow.
func DataVolumeFor(disk *apps.VMDisk, existing *cdiv1.DataVolume) (*cdiv1.DataVolume, error) {
	dv := &cdiv1.DataVolume{}
	var existingMeta *metav1.ObjectMeta
	if existing != nil {
		dv = existing.DeepCopy()
		existingMeta = &existing.ObjectMeta
	}
	meta, err := BackendMeta(&disk.ObjectMeta, existingMeta, backendnames.VMDiskKind)
	if err != nil {
		return nil, err
	}
	if disk.Spec.Optical {
		meta.Annotations = setKey(meta.Annotations, backendnames.OpticalAnnotation, "true")
	} else {
		delete(meta.Annotations, backendnames.OpticalAnnotation)
	}
	dv.ObjectMeta = meta
	dv.TypeMeta = metav1.TypeMeta{}
	if existing != nil {
		// CDI refuses any change to a DataVolume's spec; the source and
		// storage class are immutable, and a larger size grows the claim.
		withStorage(dv, disk.Spec.Storage)
		return dv, nil
	}

	dv.Spec.Source = dataVolumeSource(&disk.Spec.Source)
	delete(dv.Annotations, backendnames.SecretHeadersAnnotation)
	if secret := HeadersSecretFor(disk); secret != nil {
		dv.Spec.Source.HTTP.SecretExtraHeaders = []string{secret.Name}
		names := make([]string, 0, len(secret.Data))
		for name := range credentialHeaders(disk.Spec.Source.HTTP.Headers, true) {
			names = append(names, name)
		}
		sort.Strings(names)
		dv.Annotations = setKey(dv.Annotations, backendnames.SecretHeadersAnnotation, strings.Join(names, ","))
	}
	delete(dv.Annotations, backendnames.URLUsernameAnnotation)
	if http := dv.Spec.Source.HTTP; http != nil {
		if stripped, username, _, _, ok := credentials.SplitURLUserinfo(http.URL); ok {
			http.URL = stripped
			http.SecretRef = backendnames.CredentialsSecretName(disk.Name)
			dv.Annotations = setKey(dv.Annotations, backendnames.URLUsernameAnnotation, username)
		}
	}
	if dv.Spec.Storage == nil {
		dv.Spec.Storage = &cdiv1.StorageSpec{}
	}
	if disk.Spec.Storage != nil {
		if dv.Spec.Storage.Resources.Requests == nil {
			dv.Spec.Storage.Resources.Requests = corev1.ResourceList{}
		}
		dv.Spec.Storage.Resources.Requests[corev1.ResourceStorage] = disk.Spec.Storage.DeepCopy()
	}
	if disk.Spec.StorageClass != "" {
		class := disk.Spec.StorageClass
		dv.Spec.Storage.StorageClassName = &class
	} else {
		dv.Spec.Storage.StorageClassName = nil
	}
	return dv, nil
}

func dataVolumeSource(src *apps.VMDiskSource) *cdiv1.DataVolumeSource {
	switch {
	case src.HTTP != nil:
		return &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{
			URL:          src.HTTP.URL,
			ExtraHeaders: headerLines(credentialHeaders(src.HTTP.Headers, false)),
			Checksum:     src.HTTP.Checksum,
		}}
	case src.Registry != nil:
		url := src.Registry.URL
		return &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url}}
	case src.PVC != nil:
		return &cdiv1.DataVolumeSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: src.PVC.Name, Namespace: src.PVC.Namespace}}
	case src.Snapshot != nil:
		return &cdiv1.DataVolumeSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Name: src.Snapshot.Name, Namespace: src.Snapshot.Namespace}}
	default:
		return &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
	}
}

// headerLines renders headers the way CDI takes them, "Name: value", in a
// stable order so that equal specs give equal DataVolumes.
func headerLines(headers map[string]string) []string {
	if len(headers) == 0 {
		return nil
	}
	lines := make([]string, 0, len(headers))
	for name, value := range headers {
		lines = append(lines, name+": "+value)
	}
	sort.Strings(lines)
	return lines
}

// VMDiskFrom is the VMDisk a DataVolume stores.
func VMDiskFrom(dv *cdiv1.DataVolume) (*apps.VMDisk, error) {
	meta, err := PublicMeta(&dv.ObjectMeta)
	if err != nil {
		return nil, err
	}
	disk := &apps.VMDisk{ObjectMeta: meta}
	disk.Spec.Optical = dv.Annotations[backendnames.OpticalAnnotation] == "true"
	if disk.Spec.Source, err = vmDiskSource(dv.Spec.Source); err != nil {
		return nil, fmt.Errorf("DataVolume %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	if username, ok := dv.Annotations[backendnames.URLUsernameAnnotation]; ok && disk.Spec.Source.HTTP != nil {
		disk.Spec.Source.HTTP.URL = credentials.WithRedactedPassword(disk.Spec.Source.HTTP.URL, username)
	}
	if names := dv.Annotations[backendnames.SecretHeadersAnnotation]; names != "" && disk.Spec.Source.HTTP != nil {
		if disk.Spec.Source.HTTP.Headers == nil {
			disk.Spec.Source.HTTP.Headers = map[string]string{}
		}
		for _, name := range strings.Split(names, ",") {
			disk.Spec.Source.HTTP.Headers[name] = credentials.RedactedHeaderValue
		}
	}
	disk.Spec.Storage = DiskStorage(dv)
	if dv.Spec.Storage != nil {
		if dv.Spec.Storage.StorageClassName != nil {
			disk.Spec.StorageClass = *dv.Spec.Storage.StorageClassName
		}
	}
	disk.Status = apps.VMDiskStatus{
		ObservedGeneration: dv.Generation,
		Phase:              string(dv.Status.Phase),
		Progress:           string(dv.Status.Progress),
		ClaimName:          dv.Status.ClaimName,
		Conditions:         withReadiness(dataVolumeConditions(dv), vmDiskReadiness(dv)),
	}
	return disk, nil
}

func vmDiskSource(src *cdiv1.DataVolumeSource) (apps.VMDiskSource, error) {
	switch {
	case src == nil, src.Blank != nil:
		return apps.VMDiskSource{}, nil
	case src.HTTP != nil:
		headers, err := parseHeaderLines(src.HTTP.ExtraHeaders)
		if err != nil {
			return apps.VMDiskSource{}, err
		}
		return apps.VMDiskSource{HTTP: &apps.HTTPDiskSource{URL: src.HTTP.URL, Headers: headers, Checksum: src.HTTP.Checksum}}, nil
	case src.Registry != nil:
		var url string
		if src.Registry.URL != nil {
			url = *src.Registry.URL
		}
		return apps.VMDiskSource{Registry: &apps.RegistryDiskSource{URL: url}}, nil
	case src.PVC != nil:
		return apps.VMDiskSource{PVC: &apps.PVCDiskSource{Name: src.PVC.Name, Namespace: src.PVC.Namespace}}, nil
	case src.Snapshot != nil:
		return apps.VMDiskSource{Snapshot: &apps.SnapshotDiskSource{Name: src.Snapshot.Name, Namespace: src.Snapshot.Namespace}}, nil
	default:
		return apps.VMDiskSource{}, fmt.Errorf("source kind is not one a VMDisk can have")
	}
}

func parseHeaderLines(lines []string) (map[string]string, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	headers := make(map[string]string, len(lines))
	for _, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("extra header %q is not \"Name: value\"", line)
		}
		headers[name] = strings.TrimPrefix(value, " ")
	}
	return headers, nil
}

func dataVolumeConditions(dv *cdiv1.DataVolume) []metav1.Condition {
	var out []metav1.Condition
	for _, c := range dv.Status.Conditions {
		out = append(out, metav1.Condition{
			Type:               string(c.Type),
			Status:             metav1.ConditionStatus(c.Status),
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	return out
}

func setKey(m map[string]string, key, value string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[key] = value
	return m
}
