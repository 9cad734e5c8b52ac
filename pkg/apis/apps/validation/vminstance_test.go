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

package validation

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

func TestValidateVMInstanceValid(t *testing.T) {
	cases := []struct {
		name   string
		change func(*apps.VMInstance)
	}{
		{"production-vm.yaml", func(*apps.VMInstance) {}},
		{"resources without instance type", func(vm *apps.VMInstance) {
			vm.Spec.InstanceType = ""
			vm.Spec.Resources = &apps.VMResources{CPU: qty("2"), Memory: qty("4Gi")}
		}},
		{"resources over an instance type", func(vm *apps.VMInstance) {
			vm.Spec.Resources = &apps.VMResources{CPU: qty("8")}
		}},
		{"cpu in millicores that make whole vCPUs", func(vm *apps.VMInstance) {
			vm.Spec.Resources = &apps.VMResources{CPU: qty("2000m")}
		}},
		{"attached VMDisk and a bus", func(vm *apps.VMInstance) {
			vm.Spec.Disks = append(vm.Spec.Disks, apps.VMInstanceDisk{Name: "ubuntu-iso", Bus: "sata"})
		}},
		{"no disks", func(vm *apps.VMInstance) { vm.Spec.Disks = nil }},
		{"DataVolume name of exactly 63 characters", func(vm *apps.VMInstance) {
			vm.Name = "vm"
			vm.Spec.Disks[0].Name = strings.Repeat("d", 60) // vm-ddd…: 63
		}},
		{"an attached disk's name is not prefixed", func(vm *apps.VMInstance) {
			vm.Spec.Disks = append(vm.Spec.Disks, apps.VMInstanceDisk{Name: strings.Repeat("d", 63)})
		}},
		{"same port over TCP and UDP, other target", func(vm *apps.VMInstance) {
			vm.Spec.ExternalPorts = append(vm.Spec.ExternalPorts, apps.ExternalPort{Port: 443, Protocol: "UDP", TargetPort: 8443})
		}},
		{"ports kept while not external", func(vm *apps.VMInstance) { vm.Spec.External = false }},
		{"ssh key with options and no comment", func(vm *apps.VMInstance) {
			vm.Spec.SSHKeys[0] = `from="10.0.0.0/8",no-pty ` + strings.Fields(testKeys().ed25519)[0] + " " + strings.Fields(testKeys().ed25519)[1]
		}},
		{"ssh key with trailing newline", func(vm *apps.VMInstance) { vm.Spec.SSHKeys[1] += "\n" }},
		{"shell script user-data is not YAML", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#!/bin/bash\necho {{ not: yaml\n"
		}},
		{"empty cloud-config", func(vm *apps.VMInstance) { vm.Spec.CloudInit = "#cloud-config\n" }},
		{"cloud-config with CRLF", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#cloud-config\r\npackages:\r\n  - nginx\r\n"
		}},
		{"no cloud-init", func(vm *apps.VMInstance) { vm.Spec.CloudInit = "" }},
		{"cloud-init at the limit", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#cloud-config\n#" + strings.Repeat("x", maxCloudInitBytes-len("#cloud-config\n#"))
		}},
		{"the most vCPUs and memory", func(vm *apps.VMInstance) {
			vm.Spec.Resources = &apps.VMResources{CPU: qty("512"), Memory: qty("16Ti")}
		}},
		{"the least memory", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("1Mi")} }},
		{"memory in decimal units", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("1.5G")} }},
		{"the largest disk and a one-byte disk", func(vm *apps.VMInstance) {
			vm.Spec.Disks[0].Size = qty("1Pi")
			vm.Spec.Disks[1].Size = qty("1")
		}},
		{"as many disks, ports and keys as allowed", func(vm *apps.VMInstance) {
			vm.Spec.Disks = attachedDisks(maxInstanceDisks)
			vm.Spec.ExternalPorts = tcpPorts(maxExternalPorts)
			vm.Spec.SSHKeys = repeatKey(maxSSHKeys)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := productionVM()
			tc.change(vm)
			if errs := ValidateVMInstance(vm); len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
		})
	}
}

func TestValidateVMInstanceInvalid(t *testing.T) {
	keys := testKeys()
	edBlob := strings.Fields(keys.ed25519)[1]
	cases := []struct {
		name   string
		change func(*apps.VMInstance)
		// Every error must be of this type on this path.
		wantType  field.ErrorType
		wantField string
	}{
		{"name starts with a digit (the Service needs a DNS-1035 label)", func(vm *apps.VMInstance) { vm.Name = "1web" },
			field.ErrorTypeInvalid, "metadata.name"},
		{"name not a DNS label", func(vm *apps.VMInstance) { vm.Name = "web.example" },
			field.ErrorTypeInvalid, "metadata.name"},
		{"name too long", func(vm *apps.VMInstance) { vm.Name = strings.Repeat("a", 64); vm.Spec.Disks = nil },
			field.ErrorTypeInvalid, "metadata.name"},
		{"reserved label", func(vm *apps.VMInstance) { vm.Labels["vm.apps.cozystack.io/kind"] = "VMInstance" },
			field.ErrorTypeForbidden, "metadata.labels[vm.apps.cozystack.io/kind]"},
		{"no profile", func(vm *apps.VMInstance) { vm.Spec.InstanceProfile = "" },
			field.ErrorTypeRequired, "spec.instanceProfile"},
		{"profile with bad characters", func(vm *apps.VMInstance) { vm.Spec.InstanceProfile = "Ubuntu_22" },
			field.ErrorTypeInvalid, "spec.instanceProfile"},
		{"instance type with a space", func(vm *apps.VMInstance) { vm.Spec.InstanceType = "cx1 large" },
			field.ErrorTypeInvalid, "spec.instanceType"},
		{"neither instance type nor resources", func(vm *apps.VMInstance) { vm.Spec.InstanceType = "" },
			field.ErrorTypeRequired, "spec.instanceType"},
		{"no instance type, cpu only", func(vm *apps.VMInstance) {
			vm.Spec.InstanceType = ""
			vm.Spec.Resources = &apps.VMResources{CPU: qty("2")}
		}, field.ErrorTypeRequired, "spec.resources.memory"},
		{"no instance type, memory only", func(vm *apps.VMInstance) {
			vm.Spec.InstanceType = ""
			vm.Spec.Resources = &apps.VMResources{Memory: qty("4Gi")}
		}, field.ErrorTypeRequired, "spec.resources.cpu"},
		{"zero cpu", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("0")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"negative cpu", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("-2")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"fractional cpu", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("1500m")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"cpu far beyond the limit", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("5G")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"one vCPU more than the limit", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("513")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"cpu 1e3000 (whose Value() is 0)", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("1e3000")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"half a vCPU", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{CPU: qty("0.5")} },
			field.ErrorTypeInvalid, "spec.resources.cpu"},
		{"zero memory", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("0")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"memory 1e3000 (whose Value() is 0)", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("1e3000")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"memory 1e100", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("1e100")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"half a byte of memory", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("0.5")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"fractional bytes of memory", func(vm *apps.VMInstance) {
			vm.Spec.Resources = &apps.VMResources{Memory: qty("4Gi")}
			vm.Spec.Resources.Memory.Add(resource.MustParse("1m"))
		},
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"memory beyond 16Ti", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("17Ti")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"memory below 1Mi", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{Memory: qty("512Ki")} },
			field.ErrorTypeInvalid, "spec.resources.memory"},
		{"too many disks", func(vm *apps.VMInstance) { vm.Spec.Disks = attachedDisks(maxInstanceDisks + 1) },
			field.ErrorTypeTooMany, "spec.disks"},
		{"too many external ports", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts = tcpPorts(maxExternalPorts + 1) },
			field.ErrorTypeTooMany, "spec.externalPorts"},
		{"too many ssh keys", func(vm *apps.VMInstance) { vm.Spec.SSHKeys = repeatKey(maxSSHKeys + 1) },
			field.ErrorTypeTooMany, "spec.sshKeys"},
		{"ssh key line too long", func(vm *apps.VMInstance) {
			vm.Spec.SSHKeys[0] = keys.ed25519 + strings.Repeat("x", maxSSHKeyBytes)
		}, field.ErrorTypeTooLong, "spec.sshKeys[0]"},
		{"disk without a name", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Name = "" },
			field.ErrorTypeRequired, "spec.disks[1].name"},
		{"disk name not a DNS label", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Name = "App_Data" },
			field.ErrorTypeInvalid, "spec.disks[1].name"},
		{"duplicate disk name, inline and attached", func(vm *apps.VMInstance) {
			vm.Spec.Disks = append(vm.Spec.Disks, apps.VMInstanceDisk{Name: "root-disk"})
		}, field.ErrorTypeDuplicate, "spec.disks[2].name"},
		{"disk named like the cloud-init volume", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Name = "cloudinit" },
			field.ErrorTypeInvalid, "spec.disks[1].name"},
		{"DataVolume name longer than 63", func(vm *apps.VMInstance) {
			vm.Name = strings.Repeat("v", 40)
			vm.Spec.Disks[0].Name = strings.Repeat("d", 23) // 40+1+23 = 64
		}, field.ErrorTypeInvalid, "spec.disks[0].name"},
		{"zero disk size", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Size = qty("0") },
			field.ErrorTypeInvalid, "spec.disks[1].size"},
		{"disk size 1e3000", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Size = qty("1e3000") },
			field.ErrorTypeInvalid, "spec.disks[1].size"},
		{"disk size 1e100", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Size = qty("1e100") },
			field.ErrorTypeInvalid, "spec.disks[1].size"},
		{"disk size half a byte", func(vm *apps.VMInstance) { vm.Spec.Disks[1].Size = qty("0.5") },
			field.ErrorTypeInvalid, "spec.disks[1].size"},
		{"disk size beyond 1Pi", func(vm *apps.VMInstance) { vm.Spec.Disks[0].Size = qty("2Pi") },
			field.ErrorTypeInvalid, "spec.disks[0].size"},
		{"inline disk without storage class", func(vm *apps.VMInstance) { vm.Spec.Disks[1].StorageClass = "" },
			field.ErrorTypeRequired, "spec.disks[1].storageClass"},
		{"inline disk with a bad storage class", func(vm *apps.VMInstance) { vm.Spec.Disks[1].StorageClass = "Local!" },
			field.ErrorTypeInvalid, "spec.disks[1].storageClass"},
		{"attached disk with a storage class", func(vm *apps.VMInstance) {
			vm.Spec.Disks = append(vm.Spec.Disks, apps.VMInstanceDisk{Name: "shared", StorageClass: "local"})
		}, field.ErrorTypeInvalid, "spec.disks[2].storageClass"},
		{"unknown bus", func(vm *apps.VMInstance) { vm.Spec.Disks[0].Bus = "ide" },
			field.ErrorTypeNotSupported, "spec.disks[0].bus"},
		{"port zero", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[1].Port = 0 },
			field.ErrorTypeInvalid, "spec.externalPorts[1].port"},
		{"port above 65535", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[1].Port = 65536 },
			field.ErrorTypeInvalid, "spec.externalPorts[1].port"},
		{"SCTP", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[1].Protocol = "SCTP" },
			field.ErrorTypeNotSupported, "spec.externalPorts[1].protocol"},
		{"lower-case protocol", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[0].Protocol = "tcp" },
			field.ErrorTypeNotSupported, "spec.externalPorts[0].protocol"},
		{"target port out of range", func(vm *apps.VMInstance) { vm.Spec.ExternalPorts[1].TargetPort = 70000 },
			field.ErrorTypeInvalid, "spec.externalPorts[1].targetPort"},
		{"duplicate port and protocol", func(vm *apps.VMInstance) {
			vm.Spec.ExternalPorts = append(vm.Spec.ExternalPorts, apps.ExternalPort{Port: 80, Protocol: "TCP", TargetPort: 8080})
		}, field.ErrorTypeDuplicate, "spec.externalPorts[3]"},
		{"the reference's elided placeholder key", func(vm *apps.VMInstance) {
			vm.Spec.SSHKeys[0] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ... admin@company.com"
		}, field.ErrorTypeInvalid, "spec.sshKeys[0]"},
		{"not a key", func(vm *apps.VMInstance) { vm.Spec.SSHKeys[1] = "hello world" },
			field.ErrorTypeInvalid, "spec.sshKeys[1]"},
		{"empty key", func(vm *apps.VMInstance) { vm.Spec.SSHKeys[1] = "  " },
			field.ErrorTypeRequired, "spec.sshKeys[1]"},
		{"declared type differs from the blob's", func(vm *apps.VMInstance) {
			vm.Spec.SSHKeys = append(vm.Spec.SSHKeys, "ssh-rsa "+edBlob+" x@y")
		}, field.ErrorTypeInvalid, "spec.sshKeys[2]"},
		{"two keys in one entry", func(vm *apps.VMInstance) { vm.Spec.SSHKeys[0] = keys.rsa + "\n" + keys.ed25519 },
			field.ErrorTypeInvalid, "spec.sshKeys[0]"},
		{"bad line hiding before a good one", func(vm *apps.VMInstance) { vm.Spec.SSHKeys[0] = "garbage\n" + keys.rsa },
			field.ErrorTypeInvalid, "spec.sshKeys[0]"},
		{"cloud-config that is not YAML", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#cloud-config\nusers:\n  - name: admin\n sudo: [\n"
		}, field.ErrorTypeInvalid, "spec.cloudInit"},
		{"cloud-config that is a list", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#cloud-config\n- packages\n- nginx\n"
		}, field.ErrorTypeInvalid, "spec.cloudInit"},
		{"cloud-config that is a scalar", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#cloud-config   \nhello\n"
		}, field.ErrorTypeInvalid, "spec.cloudInit"},
		{"user-data over the limit", func(vm *apps.VMInstance) {
			vm.Spec.CloudInit = "#!/bin/sh\n" + strings.Repeat("x", maxCloudInitBytes)
		}, field.ErrorTypeTooLong, "spec.cloudInit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := productionVM()
			tc.change(vm)
			errs := ValidateVMInstance(vm)
			if len(errs) == 0 {
				t.Fatalf("want a %s error on %s, got none", tc.wantType, tc.wantField)
			}
			for _, e := range errs {
				if e.Field != tc.wantField || e.Type != tc.wantType {
					t.Fatalf("want only %s errors on %s, got %v", tc.wantType, tc.wantField, errs)
				}
			}
		})
	}
}

// Errors must not repeat secrets or whole keys back.
func TestValidateVMInstanceDoesNotEchoSecrets(t *testing.T) {
	vm := productionVM()
	vm.Spec.SSHKeys[0] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ" + strings.Repeat("A", 500) + " admin@company.com"
	vm.Spec.CloudInit = "#cloud-config\npassword: hunter2\n- oops\n"
	errs := ValidateVMInstance(vm)
	if len(errs) != 2 {
		t.Fatalf("want two errors, got %v", errs)
	}
	for _, e := range errs {
		if msg := e.Error(); strings.Contains(msg, strings.Repeat("A", 30)) || strings.Contains(msg, "hunter2") {
			t.Errorf("error repeats the value: %s", msg)
		}
	}
	if got, want := errs[0].BadValue, "ssh-rsa AAAAB3NzaC1y…"; got != want {
		t.Errorf("key shown as %q, want %q", got, want)
	}
}

func TestDataVolumeNameErrorNamesTheLimit(t *testing.T) {
	vm := productionVM()
	vm.Name = strings.Repeat("v", 50)
	vm.Spec.Disks[0].Name = "root-disk-0000"
	errs := ValidateVMInstance(vm)
	if len(errs) != 1 {
		t.Fatalf("want one error, got %v", errs)
	}
	for _, want := range []string{`"` + vm.Name + `-root-disk-0000"`, "65 characters", "63"} {
		if !strings.Contains(errs[0].Detail, want) {
			t.Errorf("%q does not mention %s", errs[0].Detail, want)
		}
	}
}

func TestVMInstanceWarnings(t *testing.T) {
	cases := []struct {
		name   string
		change func(*apps.VMInstance)
		want   []string // substrings, one per expected warning
	}{
		{"production-vm.yaml", func(*apps.VMInstance) {}, nil},
		{"ports while not external", func(vm *apps.VMInstance) { vm.Spec.External = false },
			[]string{"not exposed until spec.external is true"}},
		{"not external, no ports", func(vm *apps.VMInstance) { vm.Spec.External, vm.Spec.ExternalPorts = false, nil }, nil},
		{"instance type and resources", func(vm *apps.VMInstance) {
			vm.Spec.Resources = &apps.VMResources{Memory: qty("32Gi")}
		}, []string{`overrides the cpu/memory of instance type "cx1.large" field by field`}},
		{"empty resources", func(vm *apps.VMInstance) { vm.Spec.Resources = &apps.VMResources{} }, nil},
		{"resources alone", func(vm *apps.VMInstance) {
			vm.Spec.InstanceType = ""
			vm.Spec.Resources = &apps.VMResources{CPU: qty("2"), Memory: qty("4Gi")}
		}, nil},
		{"both", func(vm *apps.VMInstance) {
			vm.Spec.External = false
			vm.Spec.Resources = &apps.VMResources{CPU: qty("2")}
		}, []string{"spec.externalPorts", "spec.resources"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := productionVM()
			tc.change(vm)
			got := VMInstanceWarnings(vm)
			if len(got) != len(tc.want) {
				t.Fatalf("got warnings %q, want %d", got, len(tc.want))
			}
			for i, want := range tc.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("warning %q does not contain %q", got[i], want)
				}
			}
		})
	}
}
