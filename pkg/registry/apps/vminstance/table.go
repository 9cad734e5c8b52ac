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
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/registry/tables"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the virtual machine."},
	{Name: "Status", Type: "string", Description: "Printable status of the VirtualMachine."},
	{Name: "Ready", Type: "boolean", Description: "Whether the machine runs and is ready."},
	{Name: "Type", Type: "string", Description: "Instance type."},
	{Name: "Profile", Type: "string", Description: "OS profile."},
	{Name: "IP", Type: "string", Description: "First IP address of the running machine."},
	{Name: "External-IP", Type: "string", Description: "Load balancer address while external."},
	{Name: "Age", Type: "string", Format: "date", Description: "Time since creation."},
	{Name: "CPU", Type: "string", Priority: 1, Description: "Virtual CPUs the machine gets."},
	{Name: "Memory", Type: "string", Priority: 1, Description: "Guest memory the machine gets."},
	{Name: "Node", Type: "string", Priority: 1, Description: "Node the machine runs on."},
}

// tableConvertor renders VMInstances for kubectl get.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Build(columns, obj, func(o runtime.Object) ([]interface{}, error) {
		inst := o.(*apps.VMInstance)
		s := &inst.Status
		instanceType := inst.Spec.InstanceType
		if inst.Spec.Resources != nil {
			instanceType = strings.TrimPrefix(instanceType+"+custom", "+")
		}
		return []interface{}{
			inst.Name,
			s.Phase,
			s.Ready,
			instanceType,
			inst.Spec.InstanceProfile,
			first(s.IPAddresses),
			s.ExternalIP,
			tables.Age(inst.CreationTimestamp),
			quantityString(s.CPU),
			quantityString(s.Memory),
			s.NodeName,
		}, nil
	})
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// quantityString is empty for an unknown size (an instance type that is
// not installed), where Quantity.String would print "<nil>".
func quantityString(q *resource.Quantity) string {
	if q == nil {
		return ""
	}
	return q.String()
}
