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

package backend

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"kubevirt.io/client-go/containerizeddataimporter"
	kubevirtclient "kubevirt.io/client-go/kubevirt"
)

// Clients reach the backend with vm-apiserver's own identity.
type Clients struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirtclient.Interface
	CDI      containerizeddataimporter.Interface
	// WatchTimeout, when set, ends each backend watch after this long (they
	// resume by themselves); zero leaves it to kube-apiserver's own timer.
	WatchTimeout time.Duration
}

// WatchOptions are opts with the backend watch timeout.
func (c Clients) WatchOptions(opts metav1.ListOptions) metav1.ListOptions {
	opts.TimeoutSeconds = nil
	if c.WatchTimeout > 0 {
		seconds := int64(c.WatchTimeout.Seconds())
		opts.TimeoutSeconds = &seconds
	}
	return opts
}

// NewClients builds the backend clients from config, without compression:
// vm-apiserver runs beside kube-apiserver, where gzipping every list and
// watch costs kube-apiserver's CPU and vm-apiserver's to save bandwidth
// that is not short.
func NewClients(config *rest.Config) (Clients, error) {
	var c Clients
	var err error
	config = rest.CopyConfig(config)
	config.DisableCompression = true
	if c.Kube, err = kubernetes.NewForConfig(config); err != nil {
		return c, err
	}
	if c.KubeVirt, err = kubevirtclient.NewForConfig(config); err != nil {
		return c, err
	}
	c.CDI, err = containerizeddataimporter.NewForConfig(config)
	return c, err
}
