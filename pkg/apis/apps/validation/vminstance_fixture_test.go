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
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// testKeys are real authorized_keys lines standing in for the reference's
// elided "ssh-rsa AAAA... admin@company.com" placeholders.
var testKeys = sync.OnceValue(func() (keys struct{ rsa, ed25519 string }) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	keys.rsa = authorizedKey(&rsaKey.PublicKey, "admin@company.com")
	keys.ed25519 = authorizedKey(edPub, "deploy@ci.company.com")
	return keys
})

func authorizedKey(pub any, comment string) string {
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	// MarshalAuthorizedKey gives "<type> <base64>\n".
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sshPub)), "\n") + " " + comment
}

// productionVM mirrors the reference's production-vm.yaml after defaulting.
func productionVM() *apps.VMInstance {
	keys := testKeys()
	running := true
	quantity := func(s string) *resource.Quantity { q := resource.MustParse(s); return &q }
	return &apps.VMInstance{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "production-web-server",
			Namespace: "production",
			Labels:    map[string]string{"app": "web-server", "environment": "production"},
		},
		Spec: apps.VMInstanceSpec{
			Running:         &running,
			External:        true,
			ExternalPorts:   []apps.ExternalPort{{Port: 22, Protocol: "TCP", TargetPort: 22}, {Port: 80, Protocol: "TCP", TargetPort: 80}, {Port: 443, Protocol: "TCP", TargetPort: 443}},
			InstanceType:    "cx1.large",
			InstanceProfile: "ubuntu",
			Disks: []apps.VMInstanceDisk{
				{Name: "root-disk", Size: quantity("50Gi"), StorageClass: "replicated"},
				{Name: "app-data", Size: quantity("200Gi"), StorageClass: "local"},
			},
			SSHKeys:   []string{keys.rsa, keys.ed25519},
			CloudInit: productionCloudConfig(keys.rsa, keys.ed25519),
		},
	}
}

func productionCloudConfig(adminKey, deployKey string) string {
	return `#cloud-config
users:
  - name: admin
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    ssh_authorized_keys:
      - "` + adminKey + `"
  - name: deploy
    sudo: ["ALL=(ALL) NOPASSWD: /usr/bin/systemctl"]
    shell: /bin/bash
    ssh_authorized_keys:
      - "` + deployKey + `"

packages:
  - nginx
  - htop
  - iotop
  - ncdu
  - fail2ban
  - ufw

write_files:
  - path: /etc/nginx/sites-available/default
    content: |
      server {
          listen 80;
          location / {
              return 200 'Hello from Hikube VM!';
              add_header Content-Type text/plain;
          }
      }

runcmd:
  - systemctl enable nginx
  - systemctl start nginx
  - ufw allow 22
  - ufw allow 80
  - ufw allow 443
  - echo y | ufw enable
  - echo "Production VM ready!" > /var/log/hikube-setup.log

final_message: "Production VM déployée avec succès en $UPTIME secondes"
`
}

// attachedDisks is n attachments of existing VMDisks.
func attachedDisks(n int) []apps.VMInstanceDisk {
	disks := make([]apps.VMInstanceDisk, n)
	for i := range disks {
		disks[i].Name = fmt.Sprintf("disk-%d", i)
	}
	return disks
}

// tcpPorts is n distinct TCP ports.
func tcpPorts(n int) []apps.ExternalPort {
	ports := make([]apps.ExternalPort, n)
	for i := range ports {
		ports[i] = apps.ExternalPort{Port: int32(1000 + i), Protocol: "TCP", TargetPort: int32(1000 + i)}
	}
	return ports
}

// repeatKey is n entries of the same valid key.
func repeatKey(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = testKeys().ed25519
	}
	return keys
}

func qty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
