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

// Package backendfake adapts KubeVirt's and CDI's generated fake
// clientsets to informers in unit tests. Those fakes cannot send a watch's
// initial events, and, unlike client-go's own fakes, do not say so: an
// informer over them would wait for the events forever instead of listing
// first.
package backendfake

import (
	cdifake "kubevirt.io/client-go/containerizeddataimporter/fake"
	kubevirtfake "kubevirt.io/client-go/kubevirt/fake"
)

// KubeVirt is KubeVirt's fake clientset, listed before it is watched.
type KubeVirt struct{ *kubevirtfake.Clientset }

// IsWatchListSemanticsUnSupported tells client-go's reflector to list.
func (KubeVirt) IsWatchListSemanticsUnSupported() bool { return true }

// CDI is CDI's fake clientset, listed before it is watched.
type CDI struct{ *cdifake.Clientset }

// IsWatchListSemanticsUnSupported tells client-go's reflector to list.
func (CDI) IsWatchListSemanticsUnSupported() bool { return true }
