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
