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

// Package catalogue maps the OS profiles tenants name (instanceProfile) to
// the KubeVirt preference and the CDI DataSource holding the OS image.
package catalogue

import (
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/yaml"
)

// DefaultImagesNamespace is where the OS image DataSources live.
const DefaultImagesNamespace = "kubevirt-os-images"

// Profile is one OS profile.
type Profile struct {
	// Preference is the VirtualMachineClusterPreference the VM uses.
	Preference string `json:"preference"`
	// Image is the DataSource the root disk is cloned from; empty when the
	// OS is installed from an optical disk (Windows).
	Image string `json:"image,omitempty"`
	// ImagesNamespace is the DataSource's namespace; defaults to
	// DefaultImagesNamespace.
	ImagesNamespace string `json:"imagesNamespace,omitempty"`
}

// Catalogue is the profile table, by profile name.
type Catalogue map[string]Profile

// Default is the contract's table.
func Default() Catalogue {
	return Catalogue{
		"ubuntu":              {Preference: "ubuntu", Image: "ubuntu"},
		"centos-stream":       {Preference: "centos.stream9", Image: "centos-stream9"},
		"rhel":                {Preference: "rhel.9", Image: "rhel9"},
		"fedora":              {Preference: "fedora", Image: "fedora"},
		"opensuse":            {Preference: "opensuse.leap", Image: "opensuse"},
		"alpine":              {Preference: "alpine", Image: "alpine"},
		"cirros":              {Preference: "cirros", Image: "cirros"},
		"windows-10":          {Preference: "windows.10"},
		"windows-11":          {Preference: "windows.11"},
		"windows-server-2022": {Preference: "windows.2k22"},
	}
}

// Load reads a catalogue from a YAML file shaped like Default, or returns
// Default when path is empty.
func Load(path string) (Catalogue, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Catalogue
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("profile catalogue %s: %w", path, err)
	}
	for name, p := range c {
		if p.Preference == "" {
			return nil, fmt.Errorf("profile catalogue %s: profile %q has no preference", path, name)
		}
	}
	return c, nil
}

// Lookup returns a profile with its images namespace filled in.
func (c Catalogue) Lookup(name string) (Profile, bool) {
	p, ok := c[name]
	if ok && p.Image != "" && p.ImagesNamespace == "" {
		p.ImagesNamespace = DefaultImagesNamespace
	}
	return p, ok
}

// Names lists the profiles, sorted, for error messages.
func (c Catalogue) Names() []string {
	names := make([]string, 0, len(c))
	for name := range c {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
