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
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// TestTableUnknownSize checks the wide columns of a VMInstance whose size is
// unknown (its instance type is not installed) and of one that has a size.
func TestTableUnknownSize(t *testing.T) {
	cpu, memory := resource.MustParse("2"), resource.MustParse("8Gi")
	for _, tc := range []struct {
		status          apps.VMInstanceStatus
		ip, cpu, memory string
	}{
		{status: apps.VMInstanceStatus{}, ip: "", cpu: "", memory: ""},
		{status: apps.VMInstanceStatus{CPU: &cpu, Memory: &memory, IPAddresses: []string{"10.0.0.7", "fd00::7"}}, ip: "10.0.0.7", cpu: "2", memory: "8Gi"},
	} {
		inst := &apps.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: tc.status}
		table, err := tableConvertor{}.ConvertToTable(context.Background(), inst, nil)
		if err != nil {
			t.Fatal(err)
		}
		cells := table.Rows[0].Cells
		if cells[5] != tc.ip || cells[8] != tc.cpu || cells[9] != tc.memory {
			t.Errorf("IP %q CPU %q memory %q, want %q %q %q", cells[5], cells[8], cells[9], tc.ip, tc.cpu, tc.memory)
		}
	}
}
