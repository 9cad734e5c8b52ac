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

// Package v1alpha1 is the v1alpha1 version of the apps.cozystack.io API:
// simple virtual machines (VMInstance) and their disks (VMDisk), served by
// vm-apiserver as projections of KubeVirt and CDI objects.
//
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.cozystack.apps.v1alpha1
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/cozystack/vm-apiserver/pkg/apis/apps
// +k8s:defaulter-gen=TypeMeta
// +groupName=apps.cozystack.io
package v1alpha1
