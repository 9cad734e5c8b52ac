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

// Package fuzzer fills API objects with random values that survive
// defaulting, for round-trip tests.
package fuzzer

import (
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// Funcs fill what v1alpha1 defaulting would fill, so that decoding a random
// object does not change it.
var Funcs = func(runtimeserializer.CodecFactory) []interface{} {
	return []interface{}{
		func(s *apps.VMDiskSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Storage == nil {
				q := resource.MustParse("5Gi")
				s.Storage = &q
			}
			if s.StorageClass == "" {
				s.StorageClass = "replicated"
			}
		},
		func(s *apps.VMInstanceSpec, c randfill.Continue) {
			c.FillNoCustom(s)
			if s.Running == nil {
				running := c.Bool()
				s.Running = &running
			}
			if s.InstanceType == "" && (s.Resources == nil || (s.Resources.CPU == nil && s.Resources.Memory == nil)) {
				s.InstanceType = "u1.medium"
			}
			if s.InstanceProfile == "" {
				s.InstanceProfile = "ubuntu"
			}
		},
		func(d *apps.VMInstanceDisk, c randfill.Continue) {
			c.FillNoCustom(d)
			if d.Size != nil && d.StorageClass == "" {
				d.StorageClass = "replicated"
			}
		},
		func(p *apps.ExternalPort, c randfill.Continue) {
			c.FillNoCustom(p)
			if p.Protocol == "" {
				p.Protocol = "TCP"
			}
			if p.TargetPort == 0 {
				p.TargetPort = p.Port
			}
		},
	}
}
