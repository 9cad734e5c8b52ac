package projected

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
	if st.Details != nil && st.Details.Name != "" {
		name = st.Details.Name
	}
	switch st.Reason {
	case metav1.StatusReasonNotFound:
		if st.Details == nil || st.Details.Kind == "" {
			s.Availability.Forget(s.BackendResource)
			return s.requireBackend()
		}
		return apierrors.NewNotFound(s.PublicResource, name)
	case metav1.StatusReasonAlreadyExists:
		return apierrors.NewAlreadyExists(s.PublicResource, name)
	case metav1.StatusReasonConflict:
		return apierrors.NewConflict(s.PublicResource, name, errors.New(conflictReason(st.Message)))
	case metav1.StatusReasonInvalid:
		out := st.DeepCopy()
		out.Details.Group = s.PublicResource.Group
		out.Details.Kind = s.Kind
		out.Message = fmt.Sprintf("%s %q is invalid: the backend %s rejected it: %s", s.Kind, name, s.BackendResource.GroupResource(), st.Message)
		return &apierrors.StatusError{ErrStatus: *out}
	}
	return err
}

// conflictReason is the part of a conflict message after the object's name.
func conflictReason(message string) string {
	if _, reason, ok := strings.Cut(message, "\": "); ok {
		return reason
	}
	return message
}
