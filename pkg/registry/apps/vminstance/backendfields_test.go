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

import "testing"

func TestPublicField(t *testing.T) {
	for backend, want := range map[string]string{
		"spec.instancetype":                                    "spec.instanceType",
		"spec.instancetype.name":                               "spec.instanceType",
		"spec.preference":                                      "spec.instanceProfile",
		"spec.template.spec.domain.memory.guest":               "spec.resources.memory",
		"spec.template.spec.domain.resources.requests.memory":  "spec.resources.memory",
		"spec.template.spec.domain.resources.requests.cpu":     "spec.resources.cpu",
		"spec.template.spec.domain.cpu.sockets":                "spec.resources.cpu",
		"spec.template.spec.domain.devices.disks[1].cdrom.bus": "spec.disks",
		"spec.dataVolumeTemplates[0].spec.storage":             "spec.disks",
		"spec.template.spec.accessCredentials[0]":              "spec.sshKeys",
		"spec.runStrategy":                                     "spec.running",
		"spec.template.spec.domain.firmware":                   "spec",
		"":                                                     "spec",
		// A prefix of a field name is not the field.
		"spec.preferenceX": "spec",
	} {
		if got := publicField(backend); got != want {
			t.Errorf("publicField(%q) = %q, want %q", backend, got, want)
		}
	}
}
