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

package backend

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// BenchmarkHeapOfCachedVirtualMachines measures what an informer of the
// VirtualMachines would hold in vm-apiserver at 10,000 VMInstances (the
// "primaries from a cache" design docs/benchmarks.md weighs): 10,000
// decoded copies of testdata/virtualmachine.json, each decoded from its own
// bytes as a watch delivers them, as they are and with managedFields
// dropped (what an informer transform could drop). Run it with
// go test -run '^$' -bench HeapOfCachedVirtualMachines ./pkg/backend/.
func BenchmarkHeapOfCachedVirtualMachines(b *testing.B) {
	const n = 10000
	sample, err := os.ReadFile("testdata/virtualmachine.json")
	if err != nil {
		b.Fatal(err)
	}
	_, typed := decoders(b)
	var vm kubevirtv1.VirtualMachine
	if _, _, err := typed.Decode(sample, nil, &vm); err != nil {
		b.Fatal(err)
	}
	encoded := make([][]byte, n)
	for i := range encoded {
		named := vm.DeepCopy()
		named.Name, named.UID, named.ResourceVersion = fmt.Sprintf("vm-%05d", i), types.UID(fmt.Sprintf("uid-%05d", i)), fmt.Sprint(1000+i)
		encoded[i] = encodeJSON(b, named)
	}
	for _, tc := range []struct {
		name      string
		transform func(*kubevirtv1.VirtualMachine)
	}{
		{"as-read", func(*kubevirtv1.VirtualMachine) {}},
		{"without-managedFields", func(vm *kubevirtv1.VirtualMachine) { vm.ManagedFields = nil }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				before := liveHeap()
				cache := make([]*kubevirtv1.VirtualMachine, n)
				for i, data := range encoded {
					cache[i] = &kubevirtv1.VirtualMachine{}
					if _, _, err := typed.Decode(data, nil, cache[i]); err != nil {
						b.Fatal(err)
					}
					tc.transform(cache[i])
				}
				held := liveHeap() - before
				runtime.KeepAlive(cache)
				b.ReportMetric(float64(held)/(1<<20), "MiB/10k-VMs")
			}
		})
	}
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapAlloc
}
