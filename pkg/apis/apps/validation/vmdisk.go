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

package validation

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/credentials"
)

// checksumDigestLength is the hex length of each digest CDI can verify.
var checksumDigestLength = map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}

var hexDigits = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// ValidateVMDisk checks a new VMDisk. A new disk may not restate the
// placeholders that stand for stored credentials on read: there is nothing
// stored yet, so the placeholder itself would become the credential (as
// when a disk read with kubectl get is created again elsewhere).
func ValidateVMDisk(disk *apps.VMDisk) field.ErrorList {
	allErrs := validateObjectMeta(&disk.ObjectMeta, backendnames.InUseProtectionFinalizer)
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateVMDiskSpec(&disk.Spec, specPath)...)
	if http := disk.Spec.Source.HTTP; http != nil {
		httpPath := specPath.Child("source", "http")
		if _, _, password, _, ok := credentials.SplitURLUserinfo(http.URL); ok && password == credentials.RedactedURLPassword {
			allErrs = append(allErrs, field.Invalid(httpPath.Child("url"), http.URL,
				"the password "+credentials.RedactedURLPassword+" stands for one kept in a Secret; give the real password"))
		}
		for _, name := range sortedKeys(http.Headers) {
			if http.Headers[name] == credentials.RedactedHeaderValue {
				allErrs = append(allErrs, field.Invalid(httpPath.Child("headers").Key(name), http.Headers[name],
					"stands for a value kept in a Secret; give the real value"))
			}
		}
	}
	return allErrs
}

// ValidateVMDiskUpdate checks a change to a VMDisk: source and storage class
// are immutable, the size may only grow.
func ValidateVMDiskUpdate(disk, old *apps.VMDisk) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&disk.ObjectMeta, &old.ObjectMeta, backendnames.InUseProtectionFinalizer)
	specPath := field.NewPath("spec")
	allErrs = append(allErrs, validateVMDiskSpec(&disk.Spec, specPath)...)
	if !apiequality.Semantic.DeepEqual(disk.Spec.Source, old.Spec.Source) {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("source"), "field is immutable"))
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(disk.Spec.StorageClass, old.Spec.StorageClass, specPath.Child("storageClass"))...)
	if disk.Spec.Storage != nil && old.Spec.Storage != nil && disk.Spec.Storage.Cmp(*old.Spec.Storage) < 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("storage"),
			fmt.Sprintf("may not shrink from %s to %s", old.Spec.Storage.String(), disk.Spec.Storage.String())))
	}
	return allErrs
}

func validateVMDiskSpec(spec *apps.VMDiskSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateVMDiskSource(&spec.Source, fldPath.Child("source"))
	storagePath := fldPath.Child("storage")
	if spec.Storage == nil {
		allErrs = append(allErrs, field.Required(storagePath, ""))
	} else {
		allErrs = append(allErrs, validateBytes(spec.Storage, minDiskSize, maxDiskSize, storagePath)...)
	}
	allErrs = append(allErrs, validateRequiredSubdomain(spec.StorageClass, fldPath.Child("storageClass"))...)
	return allErrs
}

// validateRequiredSubdomain checks a required name of a cluster object
// (storage class, catalogue entry): a DNS subdomain.
func validateRequiredSubdomain(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

func validateVMDiskSource(src *apps.VMDiskSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	var set []string
	if src.HTTP != nil {
		set = append(set, "http")
		allErrs = append(allErrs, validateHTTPSource(src.HTTP, fldPath.Child("http"))...)
	}
	if src.Registry != nil {
		set = append(set, "registry")
		allErrs = append(allErrs, validateRegistrySource(src.Registry, fldPath.Child("registry"))...)
	}
	if src.PVC != nil {
		set = append(set, "pvc")
		allErrs = append(allErrs, validateObjectReference(src.PVC.Name, src.PVC.Namespace, fldPath.Child("pvc"))...)
	}
	if src.Snapshot != nil {
		set = append(set, "snapshot")
		allErrs = append(allErrs, validateObjectReference(src.Snapshot.Name, src.Snapshot.Namespace, fldPath.Child("snapshot"))...)
	}
	if len(set) > 1 {
		allErrs = append(allErrs, field.Invalid(fldPath, strings.Join(set, ", "),
			"may specify at most one of http, registry, pvc, snapshot (none makes a blank disk)"))
	}
	return allErrs
}

// validateHTTPSource checks an HTTP source. Errors never repeat a
// credential: a URL is shown with its password redacted, a credential
// header's value not at all. Userinfo in the URL (user:password@) is
// accepted and kept in a Secret (see projection.CredentialsSecretFor); CDI
// sends it as basic auth only when both parts are set, so a URL with only
// one of them is refused rather than imported without credentials.
func validateHTTPSource(src *apps.HTTPDiskSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	urlPath := fldPath.Child("url")
	shown := credentials.RedactURL(src.URL)
	if src.URL == "" {
		allErrs = append(allErrs, field.Required(urlPath, ""))
	} else if len(src.URL) > maxHTTPFieldBytes {
		allErrs = append(allErrs, field.TooLong(urlPath, field.OmitValueType{}, maxHTTPFieldBytes))
	} else if u, err := url.Parse(src.URL); err != nil {
		allErrs = append(allErrs, field.Invalid(urlPath, shown, urlParseError(err)))
	} else if u.Scheme != "http" && u.Scheme != "https" {
		allErrs = append(allErrs, field.Invalid(urlPath, shown, "scheme must be http or https"))
	} else if u.Host == "" {
		allErrs = append(allErrs, field.Invalid(urlPath, shown, "must name a host"))
	} else if u.User != nil {
		if password, ok := u.User.Password(); u.User.Username() == "" || !ok || password == "" {
			allErrs = append(allErrs, field.Invalid(urlPath, shown,
				"userinfo must have both a username and a password (user:password@host), which are kept in a Secret and sent as basic auth; put other credentials in an Authorization header"))
		}
	}
	headersPath := fldPath.Child("headers")
	allErrs = append(allErrs, validateListLength(len(src.Headers), maxHTTPHeaders, headersPath)...)
	for _, name := range sortedKeys(src.Headers) {
		value := src.Headers[name]
		headerPath := headersPath.Key(name)
		var shownValue interface{} = value
		if credentials.IsCredentialHeader(name) {
			shownValue = field.OmitValueType{}
		}
		switch {
		case len(name)+len(value) > maxHTTPFieldBytes:
			allErrs = append(allErrs, field.TooLong(headerPath, field.OmitValueType{}, maxHTTPFieldBytes))
		case !httpguts.ValidHeaderFieldName(name):
			allErrs = append(allErrs, field.Invalid(headerPath, name, "must be a valid HTTP header name"))
		case !httpguts.ValidHeaderFieldValue(value):
			allErrs = append(allErrs, field.Invalid(headerPath, shownValue, "must be a valid HTTP header value"))
		}
	}
	if src.Checksum != "" {
		allErrs = append(allErrs, validateChecksum(src.Checksum, fldPath.Child("checksum"))...)
	}
	return allErrs
}

func validateChecksum(checksum string, fldPath *field.Path) field.ErrorList {
	algorithm, digest, ok := strings.Cut(checksum, ":")
	length, known := checksumDigestLength[algorithm]
	switch {
	case !ok || !known:
		return field.ErrorList{field.Invalid(fldPath, checksum, `must be "<algorithm>:<hex digest>" with algorithm md5, sha1, sha256 or sha512`)}
	case len(digest) != length || !hexDigits.MatchString(digest):
		return field.ErrorList{field.Invalid(fldPath, checksum, fmt.Sprintf("a %s digest is %d hexadecimal digits", algorithm, length))}
	}
	return nil
}

func validateRegistrySource(src *apps.RegistryDiskSource, fldPath *field.Path) field.ErrorList {
	urlPath := fldPath.Child("url")
	image, ok := strings.CutPrefix(src.URL, "docker://")
	switch {
	case src.URL == "":
		return field.ErrorList{field.Required(urlPath, "")}
	case !ok:
		return field.ErrorList{field.Invalid(urlPath, src.URL, "must start with docker://")}
	case image == "" || strings.ContainsAny(image, " \t\n"):
		return field.ErrorList{field.Invalid(urlPath, src.URL, "must name an image after docker://")}
	}
	return nil
}

func validateObjectReference(name, namespace string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), name, msg))
		}
	}
	if namespace != "" {
		for _, msg := range validation.IsDNS1123Label(namespace) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), namespace, msg))
		}
	}
	return allErrs
}

// sortedKeys gives errors on a map in a stable order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// urlParseError is why a URL does not parse, without the URL itself, which
// may hold a password.
func urlParseError(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return "must be a URL: " + urlErr.Err.Error()
	}
	return "must be a URL"
}
