package projected

import (
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/selection"
)

// splitFieldSelector splits a field selector into what the backend can
// apply (metadata.name and metadata.namespace, which the primary object
// shares with the public one) and whether anything is left that only the
// projection can answer, which the store then applies itself.
func splitFieldSelector(selector fields.Selector) (backend fields.Selector, rest bool) {
	if selector == nil || selector.Empty() {
		return nil, false
	}
	var terms []fields.Selector
	for _, r := range selector.Requirements() {
		if !strings.HasPrefix(r.Field, "metadata.") {
			rest = true
			continue
		}
		switch r.Operator {
		case selection.Equals, selection.DoubleEquals:
			terms = append(terms, fields.OneTermEqualSelector(r.Field, r.Value))
		case selection.NotEquals:
			terms = append(terms, fields.OneTermNotEqualSelector(r.Field, r.Value))
		}
	}
	if len(terms) == 0 {
		return nil, rest
	}
	return fields.AndSelectors(terms...), rest
}
