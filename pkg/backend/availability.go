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

// Package backend knows which backend APIs (KubeVirt, CDI) the cluster
// serves, so that requests fail clearly while one is missing.
package backend

import (
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// recheckInterval bounds how often a missing backend resource is looked up
// again, so a burst of requests costs one discovery call.
const recheckInterval = time.Second

// Availability answers whether backend resources are served, from discovery.
// A resource found once is trusted until a backend call says otherwise
// (Forget); a missing one is looked up again at most every recheckInterval,
// so the server recovers by itself when the CRDs are installed.
type Availability struct {
	discovery discovery.DiscoveryInterface
	now       func() time.Time

	mu      sync.Mutex
	checked map[schema.GroupVersionResource]check
}

type check struct {
	served bool
	at     time.Time
	err    error
}

// NewAvailability looks resources up through the discovery client.
func NewAvailability(d discovery.DiscoveryInterface) *Availability {
	return &Availability{discovery: d, now: time.Now, checked: map[schema.GroupVersionResource]check{}}
}

// Require returns nil when the backend serves gvr, and otherwise a 503
// naming what is missing; what is the product that provides it.
func (a *Availability) Require(gvr schema.GroupVersionResource, what string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.checked[gvr]
	if !ok || (!c.served && a.now().Sub(c.at) >= recheckInterval) {
		c = a.lookup(gvr)
		a.checked[gvr] = c
	}
	switch {
	case c.served:
		return nil
	case c.err != nil:
		return apierrors.NewServiceUnavailable(fmt.Sprintf("cannot tell whether %s (%s) is installed: %v", gvr.GroupResource(), what, c.err))
	default:
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the backend resource %s (%s) is not installed in the cluster", gvr.GroupResource(), what))
	}
}

// Forget drops what is known of gvr, after a backend call suggested that it
// is no longer served.
func (a *Availability) Forget(gvr schema.GroupVersionResource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.checked, gvr)
}

func (a *Availability) lookup(gvr schema.GroupVersionResource) check {
	c := check{at: a.now()}
	list, err := a.discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return c
	}
	if err != nil {
		c.err = err
		return c
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			c.served = true
			break
		}
	}
	return c
}
