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

import "strings"

// backendFieldPrefixes map the VirtualMachine fields KubeVirt's webhook
// names in its refusals to the VMInstance fields they are written from,
// longest first, so that a 422 speaks of what the user wrote. A field
// outside them is the VMInstance's spec as a whole.
var backendFieldPrefixes = []struct{ backend, public string }{
	{"spec.template.spec.domain.devices.disks", "spec.disks"},
	{"spec.template.spec.domain.devices.interfaces", "spec.externalPorts"},
	{"spec.template.spec.domain.resources.requests.cpu", "spec.resources.cpu"},
	{"spec.template.spec.domain.resources.limits.cpu", "spec.resources.cpu"},
	{"spec.template.spec.domain.resources", "spec.resources.memory"},
	{"spec.template.spec.domain.cpu", "spec.resources.cpu"},
	{"spec.template.spec.domain.memory", "spec.resources.memory"},
	{"spec.template.spec.accessCredentials", "spec.sshKeys"},
	{"spec.template.spec.volumes", "spec.disks"},
	{"spec.dataVolumeTemplates", "spec.disks"},
	{"spec.runStrategy", "spec.running"},
	{"spec.running", "spec.running"},
	{"spec.instancetype", "spec.instanceType"},
	{"spec.preference", "spec.instanceProfile"},
}

// publicField is the VMInstance field a VirtualMachine field comes from.
func publicField(backend string) string {
	for _, p := range backendFieldPrefixes {
		if backend == p.backend || strings.HasPrefix(backend, p.backend+".") || strings.HasPrefix(backend, p.backend+"[") {
			return p.public
		}
	}
	return "spec"
}
