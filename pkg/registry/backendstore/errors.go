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
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// publicError rewrites an error of the primary backend resource so that it
// speaks of the public resource: a missing DataVolume "x" is
// `vmdisks.apps.cozystack.io "x" not found`. A 404 for the whole backend
// resource means its CRD went away: the caller gets a 503 and availability
// is looked up again.
func (s *Store[B, L]) publicError(err error, name string) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err
	}
	st := status.Status()
	if st.Details != nil && st.Details.Group == s.PublicGroupResource.Group {
		// vm-apiserver's own error, already about the public resource.
		return err
	}
	if st.Details != nil && st.Details.Name != "" {
		name = st.Details.Name
	}
	switch st.Reason {
	case metav1.StatusReasonNotFound:
		if resourceMissing(st) {
			s.Availability.Forget(s.BackendGVR)
			if err := s.requireBackend(); err != nil {
				return err
			}
			// Discovery may still list a resource whose CRD is going away.
			return apierrors.NewServiceUnavailable(fmt.Sprintf("the backend resource %s (%s) is not served right now", s.BackendGVR.GroupResource(), s.BackendProvider))
		}
		if !s.aboutPrimary(st) {
			// Another object is missing (the namespace, a clone source):
			// the error names it, as kube-apiserver's would.
			return err
		}
		return apierrors.NewNotFound(s.PublicGroupResource, name)
	case metav1.StatusReasonAlreadyExists:
		if !s.aboutPrimary(st) {
			return err
		}
		return apierrors.NewAlreadyExists(s.PublicGroupResource, name)
	case metav1.StatusReasonConflict:
		return apierrors.NewConflict(s.PublicGroupResource, name, errors.New(conflictReason(st.Message)))
	case metav1.StatusReasonInvalid:
		out := st.DeepCopy()
		if out.Details == nil {
			// An admission webhook's refusal may carry no details.
			out.Details = &metav1.StatusDetails{Name: name}
		}
		out.Details.Group = s.PublicGroupResource.Group
		out.Details.Kind = s.Kind
		out.Message = fmt.Sprintf("%s %q is invalid: the backend %s rejected it: %s", s.Kind, name, s.BackendGVR.GroupResource(), st.Message)
		if s.PublicField != nil {
			out.Message = fmt.Sprintf("%s %q is invalid: the backend %s rejected it", s.Kind, name, s.BackendGVR.GroupResource())
			var fields []string
			for i, c := range out.Details.Causes {
				// The backend's field stays in the message: the
				// webhook's own words often name it.
				out.Details.Causes[i].Field = s.PublicField(c.Field)
				out.Details.Causes[i].Message = fmt.Sprintf("%s (%s)", c.Message, c.Field)
				fields = append(fields, out.Details.Causes[i].Field+": "+out.Details.Causes[i].Message)
			}
			if len(fields) == 0 {
				fields = append(fields, st.Message)
			}
			out.Message += ": " + strings.Join(fields, "; ")
		}
		return &apierrors.StatusError{ErrStatus: *out}
	}
	return err
}

// aboutPrimary tells whether a not-found or already-exists error is about a
// primary backend object (kube-apiserver names the resource in the details).
func (s *Store[B, L]) aboutPrimary(st metav1.Status) bool {
	return st.Details.Group == s.BackendGVR.Group && st.Details.Kind == s.BackendGVR.Resource
}

// resourceMissing tells a 404 for the whole backend resource (its CRD is
// gone) from one for an object: kube-apiserver and client-go both say "the
// server could not find the requested resource", in a Status without
// details or in one client-go makes up from a plain "404 page not found".
func resourceMissing(st metav1.Status) bool {
	return st.Details == nil || st.Details.Kind == "" ||
		strings.HasPrefix(st.Message, "the server could not find the requested resource")
}

// conflictReason is the part of a conflict message after the object's name.
func conflictReason(message string) string {
	if _, reason, ok := strings.Cut(message, "\": "); ok {
		return reason
	}
	return message
}
