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
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	kubevirtv1 "kubevirt.io/api/core/v1"
	"kubevirt.io/client-go/containerizeddataimporter"
	cdischeme "kubevirt.io/client-go/containerizeddataimporter/scheme"
	cdicorev1beta1 "kubevirt.io/client-go/containerizeddataimporter/typed/core/v1beta1"
	kubevirtclient "kubevirt.io/client-go/kubevirt"
	kubevirtscheme "kubevirt.io/client-go/kubevirt/scheme"
	kubevirtcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
	cdiv1beta1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// Clients reach the backend with vm-apiserver's own identity.
type Clients struct {
	Kube     kubernetes.Interface
	KubeVirt kubevirtclient.Interface
	CDI      containerizeddataimporter.Interface
	// Metadata reads objects' metadata only, in protobuf; nil in unit tests.
	Metadata metadata.Interface
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
// that is not short. The kubevirt.io/v1 and cdi.kubevirt.io/v1beta1 clients,
// which read every VirtualMachine and DataVolume, decode with
// typedJSONCodecs.
func NewClients(config *rest.Config) (Clients, error) {
	var c Clients
	config = rest.CopyConfig(config)
	config.DisableCompression = true
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return c, err
	}
	if c.Kube, err = kubernetes.NewForConfigAndClient(config, httpClient); err != nil {
		return c, err
	}
	kubeVirt, kubeVirtV1, err := withTypedJSONClient(config, httpClient, kubevirtclient.NewForConfigAndClient,
		kubevirtv1.SchemeGroupVersion, kubevirtscheme.Scheme, kubevirtscheme.Codecs)
	if err != nil {
		return c, err
	}
	c.KubeVirt = kubeVirtClient{Interface: kubeVirt, v1: streamedKubeVirtV1{kubevirtcorev1.New(kubeVirtV1)}}
	cdi, cdiV1beta1, err := withTypedJSONClient(config, httpClient, containerizeddataimporter.NewForConfigAndClient,
		cdiv1beta1.SchemeGroupVersion, cdischeme.Scheme, cdischeme.Codecs)
	if err != nil {
		return c, err
	}
	c.CDI = cdiClient{Interface: cdi, v1beta1: cdicorev1beta1.New(cdiV1beta1)}
	if c.Metadata, err = metadata.NewForConfigAndClient(config, httpClient); err != nil {
		return c, err
	}
	return c, nil
}

// withTypedJSONClient builds a clientset and a typedJSONClient for gv, one
// of its groups, sharing one rate limiter of their own, as each clientset
// has its own budget.
func withTypedJSONClient[C any](config *rest.Config, httpClient *http.Client, newClientset func(*rest.Config, *http.Client) (C, error),
	gv schema.GroupVersion, scheme *runtime.Scheme, codecs serializer.CodecFactory) (C, *rest.RESTClient, error) {
	config = rest.CopyConfig(config)
	if config.RateLimiter == nil && config.QPS > 0 {
		config.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(config.QPS, config.Burst)
	}
	clientset, err := newClientset(config, httpClient)
	if err != nil {
		return clientset, nil, err
	}
	// As the generated clients configure theirs, with typedJSONCodecs.
	config.GroupVersion = &gv
	config.APIPath = "/apis"
	config.NegotiatedSerializer = newTypedJSONCodecs(scheme, codecs)
	if config.UserAgent == "" {
		config.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	restClient, err := rest.RESTClientForConfigAndClient(config, httpClient)
	return clientset, restClient, err
}

// kubeVirtClient is KubeVirt's clientset with a typedJSONClient for
// kubevirt.io/v1, whose VirtualMachine lists are streamed.
type kubeVirtClient struct {
	kubevirtclient.Interface
	v1 kubevirtcorev1.KubevirtV1Interface
}

func (c kubeVirtClient) KubevirtV1() kubevirtcorev1.KubevirtV1Interface { return c.v1 }

// cdiClient is CDI's clientset with a typedJSONClient for
// cdi.kubevirt.io/v1beta1.
type cdiClient struct {
	containerizeddataimporter.Interface
	v1beta1 cdicorev1beta1.CdiV1beta1Interface
}

func (c cdiClient) CdiV1beta1() cdicorev1beta1.CdiV1beta1Interface { return c.v1beta1 }
