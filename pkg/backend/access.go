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

package backend

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"
)

// RequestUser is the user of the request, as reviews take it.
func RequestUser(ctx context.Context) (authenticationv1.UserInfo, error) {
	user, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return authenticationv1.UserInfo{}, apierrors.NewInternalError(fmt.Errorf("no user in the request"))
	}
	info := authenticationv1.UserInfo{Username: user.GetName(), UID: user.GetUID(), Groups: user.GetGroups()}
	if extra := user.GetExtra(); len(extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range extra {
			info.Extra[k] = v
		}
	}
	return info, nil
}

// UserMay asks kube-apiserver whether the user of the request may do attrs,
// for the checks vm-apiserver makes because it writes the backend with its
// own identity.
func UserMay(ctx context.Context, kube kubernetes.Interface, attrs authorizationv1.ResourceAttributes) (bool, error) {
	user, err := RequestUser(ctx)
	if err != nil {
		return false, err
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, ResourceAttributes: &attrs,
	}}
	if len(user.Extra) > 0 {
		review.Spec.Extra = map[string]authorizationv1.ExtraValue{}
		for k, v := range user.Extra {
			review.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	answer, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return answer.Status.Allowed, nil
}
