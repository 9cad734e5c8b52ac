package backend

import (
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
