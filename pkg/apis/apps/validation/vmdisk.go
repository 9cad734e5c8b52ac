package validation

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/net/http/httpguts"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// checksumDigestLength is the hex length of each digest CDI can verify.
var checksumDigestLength = map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}

var hexDigits = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// ValidateVMDisk checks a new VMDisk.
func ValidateVMDisk(disk *apps.VMDisk) field.ErrorList {
	allErrs := validateObjectMeta(&disk.ObjectMeta)
	return append(allErrs, validateVMDiskSpec(&disk.Spec, field.NewPath("spec"))...)
}

// ValidateVMDiskUpdate checks a change to a VMDisk: source and storage class
// are immutable, the size may only grow.
func ValidateVMDiskUpdate(disk, old *apps.VMDisk) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&disk.ObjectMeta, &old.ObjectMeta)
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
	} else if spec.Storage.Sign() <= 0 {
		allErrs = append(allErrs, field.Invalid(storagePath, spec.Storage.String(), "must be greater than zero"))
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

func validateHTTPSource(src *apps.HTTPDiskSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	urlPath := fldPath.Child("url")
	if src.URL == "" {
		allErrs = append(allErrs, field.Required(urlPath, ""))
	} else if u, err := url.Parse(src.URL); err != nil {
		allErrs = append(allErrs, field.Invalid(urlPath, src.URL, err.Error()))
	} else if u.Scheme != "http" && u.Scheme != "https" {
		allErrs = append(allErrs, field.Invalid(urlPath, src.URL, "scheme must be http or https"))
	} else if u.Host == "" {
		allErrs = append(allErrs, field.Invalid(urlPath, src.URL, "must name a host"))
	}
	for name, value := range src.Headers {
		headerPath := fldPath.Child("headers").Key(name)
		if !httpguts.ValidHeaderFieldName(name) {
			allErrs = append(allErrs, field.Invalid(headerPath, name, "must be a valid HTTP header name"))
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			allErrs = append(allErrs, field.Invalid(headerPath, value, "must be a valid HTTP header value"))
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
