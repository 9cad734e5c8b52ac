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

// NewClients builds the backend clients from config.
func NewClients(config *rest.Config) (Clients, error) {
	var c Clients
	var err error
	if c.Kube, err = kubernetes.NewForConfig(config); err != nil {
		return c, err
	}
	if c.KubeVirt, err = kubevirtclient.NewForConfig(config); err != nil {
		return c, err
	}
	c.CDI, err = containerizeddataimporter.NewForConfig(config)
	return c, err
}
