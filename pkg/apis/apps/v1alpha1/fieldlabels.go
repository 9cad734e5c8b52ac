package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// selectableFields are the fields each kind can be selected by, besides
// metadata.name and metadata.namespace.
var selectableFields = map[string][]string{
	"VMInstance": {"spec.running", "spec.instanceType", "spec.instanceProfile", "status.phase"},
	"VMDisk":     {"status.phase", "spec.storageClass"},
}

// addFieldLabelConversions registers the selectable fields, so that a
// field selector on any other field is a 400 rather than ignored.
func addFieldLabelConversions(scheme *runtime.Scheme) error {
	for kind, fields := range selectableFields {
		allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for _, f := range fields {
			allowed[f] = true
		}
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind), func(label, value string) (string, string, error) {
			if !allowed[label] {
				return "", "", fmt.Errorf("field label not supported: %s", label)
			}
			return label, value, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
