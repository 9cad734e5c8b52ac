package backend

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"
)

// UserMay asks kube-apiserver whether the user of the request may do attrs,
// for the checks vm-apiserver makes because it writes the backend with its
// own identity.
func UserMay(ctx context.Context, kube kubernetes.Interface, attrs authorizationv1.ResourceAttributes) (bool, error) {
	user, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false, apierrors.NewInternalError(fmt.Errorf("no user in the request"))
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range user.GetExtra() {
		extra[k] = v
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.GetName(), UID: user.GetUID(), Groups: user.GetGroups(), Extra: extra, ResourceAttributes: &attrs,
	}}
	answer, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return answer.Status.Allowed, nil
}
