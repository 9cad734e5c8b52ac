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
	"context"

	"github.com/go-json-experiment/json"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kubevirtscheme "kubevirt.io/client-go/kubevirt/scheme"
	kubevirtcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"
)

// streamedKubeVirtV1 is the kubevirt.io/v1 client whose VirtualMachine
// lists are decoded as they arrive. client-go reads a whole response before
// decoding it, so vm-apiserver would decode a chunk of VMs only after
// kube-apiserver had finished encoding it; decoding from the stream does
// both at once.
type streamedKubeVirtV1 struct {
	kubevirtcorev1.KubevirtV1Interface
}

func (c streamedKubeVirtV1) VirtualMachines(namespace string) kubevirtcorev1.VirtualMachineInterface {
	return streamedVirtualMachines{
		VirtualMachineInterface: c.KubevirtV1Interface.VirtualMachines(namespace),
		client:                  c.RESTClient(),
		namespace:               namespace,
	}
}

type streamedVirtualMachines struct {
	kubevirtcorev1.VirtualMachineInterface
	client    rest.Interface
	namespace string
}

func (c streamedVirtualMachines) List(ctx context.Context, opts metav1.ListOptions) (*kubevirtv1.VirtualMachineList, error) {
	body, err := c.client.Get().
		NamespaceIfScoped(c.namespace, c.namespace != "").
		Resource("virtualmachines").
		VersionedParams(&opts, kubevirtscheme.ParameterCodec).
		Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	list := &kubevirtv1.VirtualMachineList{}
	if err := json.UnmarshalRead(body, list, typedJSONDecodeOptions); err != nil {
		return nil, err
	}
	// As client-go's typed clients return it.
	list.TypeMeta = metav1.TypeMeta{}
	return list, nil
}
