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

// Package apiserver assembles vm-apiserver: the generic API server with the
// apps.cozystack.io group, whose storage projects backend objects.
package apiserver

import (
	"context"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
	"github.com/cozystack/vm-apiserver/pkg/controller/diskprotection"
	"github.com/cozystack/vm-apiserver/pkg/registry/apps/vmdisk"
	"github.com/cozystack/vm-apiserver/pkg/registry/apps/vminstance"
)

// Config is the generic server configuration plus the profile catalogue.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	Profiles      catalogue.Catalogue
	// BackendWatchTimeout ends each backend watch after this long (they
	// resume); zero leaves it to kube-apiserver.
	BackendWatchTimeout time.Duration
	// AllocateLoadBalancerNodePorts is the VMInstance Services'
	// spec.allocateLoadBalancerNodePorts.
	AllocateLoadBalancerNodePorts bool
}

// Server is a running vm-apiserver.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	broadcaster      record.EventBroadcaster
	draining         *draining
}

// Run serves until ctx ends, then shuts down gracefully (see the
// --shutdown-* flags): readiness fails, in-flight requests finish, watches
// end. The events recorded by the last requests are sent before it returns.
func (s *Server) Run(ctx context.Context) error {
	s.draining.follow(ctx)
	err := s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
	s.broadcaster.Shutdown()
	return err
}

// New builds the server. It does not need the backend CRDs to exist: each
// request checks for them and answers 503 while they are missing.
func (c *Config) New() (*Server, error) {
	drain := &draining{}
	buildChain := c.GenericConfig.BuildHandlerChainFunc
	c.GenericConfig.BuildHandlerChainFunc = func(h http.Handler, config *genericapiserver.Config) http.Handler {
		return drain.closeConnections(buildChain(h, config))
	}
	completed := c.GenericConfig.Complete()
	generic, err := completed.New("vm-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}

	clients, err := backend.NewClients(c.GenericConfig.ClientConfig)
	if err != nil {
		return nil, err
	}
	clients.WatchTimeout = c.BackendWatchTimeout
	availability := backend.NewAvailability(clients.Kube.Discovery())
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clients.Kube.CoreV1().Events("")})
	// Stopped by Run once the last request has finished: requests served
	// during the shutdown delay still record their events.
	events := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "vm-apiserver"})

	// Deleted VMDisks stay until no VMInstance attaches them; its informer
	// also answers which VMInstances attach a VMDisk (usedBy).
	protection := diskprotection.New(clients)
	joined := vminstance.NewJoinCache(clients)
	// Changes of the joined objects reach VMInstance watches through their
	// VMs, recorded there.
	recorder := vminstance.NewJoinRecorder(clients, joined, protection)
	generic.AddPostStartHookOrDie("cache-vminstance-joins", func(ctx genericapiserver.PostStartHookContext) error {
		joined.Run(ctx)
		go recorder.Run(ctx)
		return nil
	})

	group := servedGroup()
	group.VersionedResourcesStorageMap["v1alpha1"] = map[string]rest.Storage{
		"vmdisks": vmdisk.NewREST(clients, protection, availability, Scheme),
		"vminstances": vminstance.NewREST(clients, vminstance.Options{
			Profiles: c.Profiles, Events: events, Availability: availability, Joined: joined, VMs: protection,
			AllocateLoadBalancerNodePorts: c.AllocateLoadBalancerNodePorts,
		}, Scheme),
	}
	if err := generic.InstallAPIGroup(&group); err != nil {
		return nil, err
	}
	relay := &vminstance.EventRelay{Clients: clients, Events: events}
	generic.AddPostStartHookOrDie("relay-kubevirt-events", func(ctx genericapiserver.PostStartHookContext) error {
		go relay.Run(ctx)
		return nil
	})
	generic.AddPostStartHookOrDie("protect-vmdisks-in-use", func(ctx genericapiserver.PostStartHookContext) error {
		go protection.Run(ctx)
		return nil
	})
	return &Server{GenericAPIServer: generic, broadcaster: broadcaster, draining: drain}, nil
}
