// Package server is the vm-apiserver command: flags, configuration, run.
package server

import (
	"context"
	"fmt"
	"net"
	"time"

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
}

// NewOptions returns the default options: delegated authentication and
// authorization, and no etcd, since every object lives in the backend.
func NewOptions() *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions("", apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)),
	}
	o.RecommendedOptions.Etcd = nil
	o.BackendQPS = 200
	o.BackendBurst = 400
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
	config.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	if err := o.RecommendedOptions.ApplyTo(config); err != nil {
		return nil, err
	}
	config.ClientConfig.QPS = o.BackendQPS
	config.ClientConfig.Burst = o.BackendBurst
	profiles, err := catalogue.Load(o.ProfileCatalogue)
	if err != nil {
		return nil, err
	}
	return &apiserver.Config{GenericConfig: config, Profiles: profiles, BackendWatchTimeout: o.BackendWatchTimeout}, nil
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
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
