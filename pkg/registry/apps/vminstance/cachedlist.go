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

package vminstance

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"

	"github.com/cozystack/vm-apiserver/pkg/backend"
)

// VMCache holds every VMInstance VM in memory, whole but for its
// managedFields, and tells how far it has come (the disk protection
// controller's informer). Its copies are shared: nothing may change them.
type VMCache interface {
	CachedVMs
	HasSynced() bool
	// VMs are the copies in namespace ("" for all).
	VMs(namespace string) []*kubevirtv1.VirtualMachine
	VMProgress() *backend.Progress
}

// cacheCatchUp is how long a consistent list waits for the VM cache to
// reach what kube-apiserver answered before it lists live instead. The
// cache is normally milliseconds behind.
const cacheCatchUp = time.Second

// metadataPage is how many VMs' metadata a consistent list reads from
// kube-apiserver at a time: under write load the cache is shown current
// before the last page (below), and only the versions are kept.
const metadataPage = 500

// listedVersion is what a metadata list says of one VM.
type listedVersion struct {
	uid             types.UID
	resourceVersion string
}

// ListCached answers a consistent list of VMs from the VM cache. It asks
// kube-apiserver for the VMs' metadata (a consistent read, in protobuf, a
// fraction of the VMs' JSON, in pages of one snapshot), and serves the
// cache's copies once either the cache has applied a change at least as
// new as that snapshot, so that it holds every change up to it (under
// write load, often before the last page), or its copies are exactly the
// ones listed, version for version (a quiet cluster). Otherwise, after
// cacheCatchUp, the store lists live.
func (v *virtualMachines) ListCached(ctx context.Context, namespace string, opts metav1.ListOptions) ([]*kubevirtv1.VirtualMachine, string, bool, error) {
	if v.cachedVMs == nil || v.Metadata == nil || !v.cachedVMs.HasSynced() {
		return nil, "", false, nil
	}
	selected, err := selectorOf(opts)
	if err != nil {
		// kube-apiserver's answer to the live list says what is wrong.
		return nil, "", false, nil
	}
	client := v.Metadata.Resource(VirtualMachines).Namespace(namespace)
	pageOpts := metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector, Limit: metadataPage}
	listed := map[string]listedVersion{}
	var snapshot string
	var snapshotAt uint64
	for {
		page, err := client.List(ctx, pageOpts)
		if err != nil {
			// The live list answers with kube-apiserver's own error.
			return nil, "", false, ctx.Err()
		}
		if snapshot == "" {
			snapshot = page.ResourceVersion
			if snapshotAt, err = strconv.ParseUint(snapshot, 10, 64); err != nil {
				return nil, "", false, nil
			}
		}
		for i := range page.Items {
			item := &page.Items[i]
			listed[key(item.Namespace, item.Name)] = listedVersion{uid: item.UID, resourceVersion: item.ResourceVersion}
		}
		if vms, resourceVersion, ok := v.cachedSince(namespace, selected, snapshotAt); ok {
			return vms, resourceVersion, true, nil
		}
		if page.Continue == "" {
			break
		}
		pageOpts.Continue = page.Continue
	}
	timeout := time.NewTimer(cacheCatchUp)
	defer timeout.Stop()
	for {
		_, changed := v.cachedVMs.VMProgress().Applied()
		if vms, resourceVersion, ok := v.cachedSince(namespace, selected, snapshotAt); ok {
			return vms, resourceVersion, true, nil
		}
		if vms, ok := sameAsListed(listed, v.cachedVMs.VMs(namespace), selected); ok {
			return vms, snapshot, true, nil
		}
		select {
		case <-changed:
		case <-timeout.C:
			return nil, "", false, nil
		case <-ctx.Done():
			return nil, "", false, ctx.Err()
		}
	}
}

// cachedSince returns the cached VMs selected in namespace, and the
// list's resourceVersion, when the cache has applied a change at least as
// new as resourceVersion since. The copies are read after that: they are
// at least as new as the change, and the list's resourceVersion is the
// newer of it and theirs, so a watch from there may repeat a change the
// list already shows but misses none.
func (v *virtualMachines) cachedSince(namespace string, selected func(*kubevirtv1.VirtualMachine) bool, resourceVersion uint64) ([]*kubevirtv1.VirtualMachine, string, bool) {
	applied, _ := v.cachedVMs.VMProgress().Applied()
	if applied < resourceVersion {
		return nil, "", false
	}
	vms, newest := selectedInOrder(v.cachedVMs.VMs(namespace), selected)
	return vms, strconv.FormatUint(max(applied, newest), 10), true
}

// selectorOf matches a VM against the label and field selectors of a
// backend list (fields: metadata.name and metadata.namespace).
func selectorOf(opts metav1.ListOptions) (func(*kubevirtv1.VirtualMachine) bool, error) {
	byLabels, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, err
	}
	byFields, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return nil, err
	}
	return func(vm *kubevirtv1.VirtualMachine) bool {
		return byLabels.Matches(labels.Set(vm.Labels)) &&
			byFields.Matches(fields.Set{"metadata.name": vm.Name, "metadata.namespace": vm.Namespace})
	}, nil
}

// selectedInOrder are the cached VMs selected, in kube-apiserver's list
// order (by "namespace/name", as its storage keys sort), and the newest
// resourceVersion among them. Each key is built once, not per comparison.
func selectedInOrder(cached []*kubevirtv1.VirtualMachine, selected func(*kubevirtv1.VirtualMachine) bool) ([]*kubevirtv1.VirtualMachine, uint64) {
	type keyed struct {
		key string
		vm  *kubevirtv1.VirtualMachine
	}
	var in []keyed
	var newest uint64
	for _, vm := range cached {
		if !selected(vm) {
			continue
		}
		in = append(in, keyed{key(vm.Namespace, vm.Name), vm})
		if rv, err := strconv.ParseUint(vm.ResourceVersion, 10, 64); err == nil {
			newest = max(newest, rv)
		}
	}
	slices.SortFunc(in, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	out := make([]*kubevirtv1.VirtualMachine, len(in))
	for i := range in {
		out[i] = in[i].vm
	}
	return out, newest
}

// sameAsListed returns the cached VMs selected, in list order, when they
// are exactly the VMs listed at the same versions.
func sameAsListed(listed map[string]listedVersion, cached []*kubevirtv1.VirtualMachine, selected func(*kubevirtv1.VirtualMachine) bool) ([]*kubevirtv1.VirtualMachine, bool) {
	vms, _ := selectedInOrder(cached, selected)
	if len(vms) != len(listed) {
		return nil, false
	}
	for _, vm := range vms {
		want, ok := listed[key(vm.Namespace, vm.Name)]
		if !ok || vm.UID != want.uid || vm.ResourceVersion != want.resourceVersion {
			return nil, false
		}
	}
	return vms, true
}
