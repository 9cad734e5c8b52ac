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

// Package server is the vm-apiserver command: flags, configuration, run.
package server

import (
	"context"
	"fmt"
	"net"
	"time"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
	basecompatibility "k8s.io/component-base/compatibility"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	netutils "k8s.io/utils/net"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
	"github.com/cozystack/vm-apiserver/pkg/apiserver"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
	generatedopenapi "github.com/cozystack/vm-apiserver/pkg/generated/openapi"
	"github.com/cozystack/vm-apiserver/pkg/version"
)

// Options are the command-line options of vm-apiserver.
type Options struct {
	RecommendedOptions *genericoptions.RecommendedOptions
	// ProfileCatalogue is a YAML file mapping OS profiles to preferences and
	// images; empty means the contract's table.
	ProfileCatalogue string
	// BackendQPS and BackendBurst limit the requests vm-apiserver makes to
	// kube-apiserver. Every public request becomes one or more of them, so
	// client-go's default of 5 per second would throttle all tenants
	// together; the defaults are those of the delegated authentication and
	// authorization clients, which sit on the request path the same way.
	BackendQPS   float32
	BackendBurst int
	// BackendWatchTimeout ends every backend watch after this long; they
	// resume where they were. Zero leaves it to kube-apiserver, which ends
	// them after 30 to 60 minutes; the tests shorten it to see resumption.
	BackendWatchTimeout time.Duration
	// Shutdown is what happens on SIGTERM: readiness fails at once, the
	// server keeps serving for ShutdownDelay (so that load balancers, the
	// Service's endpoints and the aggregator stop sending it requests),
	// then it stops accepting connections, lets in-flight requests finish
	// and ends every watch cleanly (clients re-watch through another
	// replica), waiting at most ShutdownWatchTerminationGracePeriod for
	// them. The flags are kube-apiserver's.
	ShutdownDelay                       time.Duration
	ShutdownWatchTerminationGracePeriod time.Duration
	ShutdownSendRetryAfter              bool
	// AllocateLoadBalancerNodePorts is the spec.allocateLoadBalancerNodePorts
	// of the LoadBalancer Services of external VMInstances. Node ports are
	// a scarce range (about 2,700 per cluster) that most load-balancer
	// implementations do not use; false lets a cluster expose more
	// VMInstances than that.
	AllocateLoadBalancerNodePorts bool
	// PrintVersion prints the version and exits.
	PrintVersion bool
}

// Shutdown defaults. Without a watch grace period k8s.io/apiserver does
// not end watches on shutdown at all: they would hold the process until the
// HTTP server's shutdown timeout and then break.
const (
	DefaultShutdownDelay                       = 5 * time.Second
	DefaultShutdownWatchTerminationGracePeriod = 10 * time.Second
)

// NewOptions returns the default options: delegated authentication and
// authorization, and no etcd, since every object lives in the backend.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions("", apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
	}
	o.RecommendedOptions.Etcd = nil
	// HTTP/1.1 only. kube-apiserver's aggregator proxies over one HTTP/2
	// connection per replica and cannot retry a request with a body that
	// the replica's GOAWAY refused: it answers 503 without Retry-After,
	// which clients do not retry (kubernetes/kubernetes#135285). A replica
	// shutting down sends that GOAWAY while other requests are in flight on
	// the same connection. Over HTTP/1.1 a connection carries one request
	// at a time and "Connection: close" rides on an answer (see draining),
	// so a rolling update loses nothing. --disable-http2-serving=false
	// turns HTTP/2 back on.
	o.RecommendedOptions.SecureServing.DisableHTTP2Serving = true
	o.BackendQPS = 200
	o.BackendBurst = 400
	o.ShutdownDelay = DefaultShutdownDelay
	o.ShutdownWatchTerminationGracePeriod = DefaultShutdownWatchTerminationGracePeriod
	// A request that still reaches a replica after the delay gets 429 with
	// Retry-After, which client-go retries, rather than a closed connection.
	o.ShutdownSendRetryAfter = true
	o.AllocateLoadBalancerNodePorts = true
	return o
}

// NewCommand is the vm-apiserver root command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	cmd := &cobra.Command{
		Use:          "vm-apiserver",
		Short:        "Serves VMInstance and VMDisk (apps.cozystack.io) as projections of KubeVirt and CDI objects",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.PrintVersion {
				fmt.Fprintln(c.OutOrStdout(), version.String())
				return nil
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags adds the generic server's flags and vm-apiserver's own to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	fs.StringVar(&o.ProfileCatalogue, "profile-catalogue", o.ProfileCatalogue,
		"YAML file mapping each instanceProfile to {preference, image, imagesNamespace}; defaults to the built-in table")
	fs.Float32Var(&o.BackendQPS, "backend-qps", o.BackendQPS,
		"requests per second vm-apiserver may make to kube-apiserver for the KubeVirt, CDI and core objects it reads and writes")
	fs.IntVar(&o.BackendBurst, "backend-burst", o.BackendBurst,
		"burst above --backend-qps allowed for requests to kube-apiserver")
	fs.DurationVar(&o.BackendWatchTimeout, "backend-watch-timeout", o.BackendWatchTimeout,
		"end each watch of kube-apiserver after this long and resume it (0: kube-apiserver's own timeout)")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay-duration", o.ShutdownDelay,
		"on SIGTERM, keep serving this long with /readyz failing, so that load balancers and the aggregator stop sending requests before the listener closes")
	fs.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod,
		"on shutdown, end every open watch cleanly (clients re-watch elsewhere) and wait at most this long for them; 0 leaves watches open until the HTTP server's shutdown timeout")
	fs.BoolVar(&o.ShutdownSendRetryAfter, "shutdown-send-retry-after", o.ShutdownSendRetryAfter,
		"after --shutdown-delay-duration, answer new requests with 429 and Retry-After until in-flight requests have drained, instead of closing the listener")
	fs.BoolVar(&o.AllocateLoadBalancerNodePorts, "allocate-load-balancer-node-ports", o.AllocateLoadBalancerNodePorts,
		"give the LoadBalancer Services of external VMInstances node ports (spec.allocateLoadBalancerNodePorts); set false when the cluster's load balancers do not need them. Applies to Services created from then on")
	// No shorthand: -v is klog's verbosity.
	fs.BoolVar(&o.PrintVersion, "version", o.PrintVersion, "print the version and exit")
}

// Validate checks the options.
func (o *Options) Validate() error {
	errs := o.RecommendedOptions.Validate()
	if o.BackendWatchTimeout < 0 || (o.BackendWatchTimeout > 0 && o.BackendWatchTimeout < time.Second) {
		errs = append(errs, fmt.Errorf("--backend-watch-timeout must be 0 or at least 1s"))
	}
	if o.BackendQPS <= 0 || o.BackendBurst <= 0 {
		errs = append(errs, fmt.Errorf("--backend-qps and --backend-burst must be positive"))
	}
	if o.ShutdownDelay < 0 || o.ShutdownWatchTerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-delay-duration and --shutdown-watch-termination-grace-period must not be negative"))
	}
	return utilerrors.NewAggregate(errs)
}

// Config turns the options into a server configuration.
func (o *Options) Config() (*apiserver.Config, error) {
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}
	config := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	config.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	config.OpenAPIConfig.Info.Title = "vm-apiserver"
	config.OpenAPIConfig.Info.Version = v1alpha1.SchemeGroupVersion.Version
	config.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	config.OpenAPIV3Config.Info.Title = "vm-apiserver"
	config.OpenAPIV3Config.Info.Version = v1alpha1.SchemeGroupVersion.Version
	config.FeatureGate = utilfeature.DefaultFeatureGate
	config.EffectiveVersion = ownVersion{compatibility.DefaultBuildEffectiveVersion()}
	config.ShutdownDelayDuration = o.ShutdownDelay
	config.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod
	config.ShutdownSendRetryAfter = o.ShutdownSendRetryAfter
	if err := o.RecommendedOptions.ApplyTo(config); err != nil {
		return nil, err
	}
	if config.Authorization.Authorizer != nil {
		config.Authorization.Authorizer = everyNameFirst{config.Authorization.Authorizer}
	}
	config.ClientConfig.QPS = o.BackendQPS
	config.ClientConfig.Burst = o.BackendBurst
	profiles, err := catalogue.Load(o.ProfileCatalogue)
	if err != nil {
		return nil, err
	}
	return &apiserver.Config{GenericConfig: config, Profiles: profiles, BackendWatchTimeout: o.BackendWatchTimeout,
		AllocateLoadBalancerNodePorts: o.AllocateLoadBalancerNodePorts}, nil
}

// Run starts the server and blocks until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	server, err := config.New()
	if err != nil {
		return err
	}
	return server.Run(ctx)
}

// ownVersion is the Kubernetes effective version of the libraries (which
// decides the features and APIs k8s.io/apiserver offers) that reports
// vm-apiserver's own version on /version.
type ownVersion struct {
	basecompatibility.EffectiveVersion
}

func (ownVersion) Info() *apimachineryversion.Info {
	info := version.Get()
	return &info
}
