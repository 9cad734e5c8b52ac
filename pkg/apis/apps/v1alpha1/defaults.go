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

package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

// The contract's defaults.
const (
	DefaultStorageClass    = "replicated"
	DefaultDiskStorage     = "5Gi"
	DefaultInstanceType    = "u1.medium"
	DefaultInstanceProfile = "ubuntu"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_VMDiskSpec fills in the size and storage class of a disk.
func SetDefaults_VMDiskSpec(obj *VMDiskSpec) {
	if obj.Storage == nil {
		size := resource.MustParse(DefaultDiskStorage)
		obj.Storage = &size
	}
	if obj.StorageClass == "" {
		obj.StorageClass = DefaultStorageClass
	}
}

// SetDefaults_VMInstanceSpec fills in the run state, size and profile. The
// instance type defaults only when no explicit resources are given, so that
// resources alone size the machine.
func SetDefaults_VMInstanceSpec(obj *VMInstanceSpec) {
	if obj.Running == nil {
		running := true
		obj.Running = &running
	}
	if obj.InstanceType == "" && (obj.Resources == nil || (obj.Resources.CPU == nil && obj.Resources.Memory == nil)) {
		obj.InstanceType = DefaultInstanceType
	}
	if obj.InstanceProfile == "" {
		obj.InstanceProfile = DefaultInstanceProfile
	}
}

// SetDefaults_VMInstanceDisk gives inline disks (those with a size) the
// default storage class; attached VMDisks keep their own.
func SetDefaults_VMInstanceDisk(obj *VMInstanceDisk) {
	if obj.Size != nil && obj.StorageClass == "" {
		obj.StorageClass = DefaultStorageClass
	}
}

// SetDefaults_ExternalPort forwards a port to the same port inside the
// machine unless told otherwise. (The protocol's default is a +default
// marker, so that server-side apply knows it too: protocol is a list key.)
func SetDefaults_ExternalPort(obj *ExternalPort) {
	if obj.TargetPort == 0 {
		obj.TargetPort = obj.Port
	}
}
