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

package backendstore

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
