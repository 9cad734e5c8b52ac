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
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// names answers like RBAC with the given rules: allowed names of
// vminstances ("" for all), and records the names it was asked about.
type names struct {
	allowed []string
	asked   []string
}

func (n *names) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	n.asked = append(n.asked, attrs.GetName())
	for _, name := range n.allowed {
		if name == "" || name == attrs.GetName() {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func TestEveryNameFirst(t *testing.T) {
	get := func(name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "alice"}, Verb: "get", Namespace: "tenant",
			APIGroup: "apps.cozystack.io", APIVersion: "v1alpha1", Resource: "vminstances", Name: name, ResourceRequest: true}
	}
	for _, tc := range []struct {
		name    string
		allowed []string
		request authorizer.AttributesRecord
		want    authorizer.Decision
		asked   []string
	}{
		{"every name allowed: one question for all", []string{""}, get("web"), authorizer.DecisionAllow, []string{""}},
		{"only this name allowed", []string{"web"}, get("web"), authorizer.DecisionAllow, []string{"", "web"}},
		{"another name allowed", []string{"db"}, get("web"), authorizer.DecisionNoOpinion, []string{"", "web"}},
		{"no name: asked as is", []string{"web"}, get(""), authorizer.DecisionNoOpinion, []string{""}},
		{"not a resource", []string{""}, authorizer.AttributesRecord{Verb: "get", Path: "/metrics"}, authorizer.DecisionAllow, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &names{allowed: tc.allowed}
			got, _, err := everyNameFirst{authorizer.AuthorizerFunc(inner.Authorize)}.Authorize(context.Background(), tc.request)
			if err != nil || got != tc.want {
				t.Fatalf("decision %v (%v), want %v", got, err, tc.want)
			}
			if len(inner.asked) != len(tc.asked) {
				t.Fatalf("asked about %q, want %q", inner.asked, tc.asked)
			}
			for i := range tc.asked {
				if inner.asked[i] != tc.asked[i] {
					t.Fatalf("asked about %q, want %q", inner.asked, tc.asked)
				}
			}
		})
	}
}
