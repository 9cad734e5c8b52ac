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

package server

import (
	"context"

	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// everyNameFirst asks, for a request about one named object, first whether
// the user may do the same to every object of the resource in the
// namespace, and only when not about the one object.
//
// The delegated authorizer asks kube-apiserver with a SubjectAccessReview
// and caches the answer by the whole question, name included: a client
// reading many VMInstances one by one cost a review each. The question
// without a name is the same for all of them, so its answer is cached
// once. It is sound: a review without a name asks about all names, and an
// allowed one covers each. A user allowed only some names (RBAC
// resourceNames) is still asked about the one object.
type everyNameFirst struct{ authorizer.Authorizer }

func (a everyNameFirst) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if decision, reason, ok := a.everyNameAllowed(ctx, attrs); ok {
		return decision, reason, nil
	}
	return a.Authorizer.Authorize(ctx, attrs)
}

// ConditionsAwareAuthorize takes the same shortcut, and otherwise leaves the
// decision (conditional or not) to the delegated authorizer.
func (a everyNameFirst) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	if decision, reason, ok := a.everyNameAllowed(ctx, attrs); ok {
		return authorizer.ConditionsAwareDecisionFromParts(decision, reason, nil)
	}
	return a.Authorizer.ConditionsAwareAuthorize(ctx, attrs)
}

// everyNameAllowed is the answer for every object, when the request names
// one and the answer is an unconditional allow.
func (a everyNameFirst) everyNameAllowed(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, bool) {
	if !attrs.IsResourceRequest() || attrs.GetName() == "" {
		return authorizer.DecisionNoOpinion, "", false
	}
	every := authorizer.AttributesRecord{
		User: attrs.GetUser(), Verb: attrs.GetVerb(), Namespace: attrs.GetNamespace(),
		APIGroup: attrs.GetAPIGroup(), APIVersion: attrs.GetAPIVersion(),
		Resource: attrs.GetResource(), Subresource: attrs.GetSubresource(),
		ResourceRequest: true,
	}
	decision, reason, err := a.Authorizer.Authorize(ctx, every)
	return decision, reason, err == nil && decision == authorizer.DecisionAllow
}
