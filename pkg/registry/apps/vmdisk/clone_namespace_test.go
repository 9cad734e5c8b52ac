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
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// Creating VMDisk "copy" that clones from a namespace that does not exist
// must not answer `vmdisks.apps.cozystack.io "other" not found`: CDI's
// clone check fails to read the namespace, and that 404 names the
// namespace, not a VMDisk.
func TestCloneFromAMissingNamespaceIsNotReportedAsAMissingVMDisk(t *testing.T) {
	d := newDisks(t, nil)
	disk := httpDisk("copy")
	disk.Spec.Source = apps.VMDiskSource{PVC: &apps.PVCDiskSource{Namespace: "other", Name: "data"}}
	_, err := d.store.Create(asAlice(), disk, nil, &metav1.CreateOptions{})
	var status apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &status) && status.Status().Details.Kind == "vmdisks" && status.Status().Details.Name == "other" {
		t.Fatalf("a missing source namespace reads as a missing VMDisk: %v", err)
	}
}
