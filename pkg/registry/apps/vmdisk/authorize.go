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

package vmdisk

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
)

// authorizeClone applies CDI's clone check to the requesting user. vm-apiserver
// creates the DataVolume with its own identity, so CDI would otherwise check
// the server, and a tenant could copy a volume from a namespace they cannot
// read. A clone from another namespace needs create on datavolumes/source
// there (CDI's rule, through CDI's own helper).
func (d dataVolumes) authorizeClone(ctx context.Context, dv *cdiv1.DataVolume) error {
	userInfo, err := backend.RequestUser(ctx)
	if err != nil {
		return err
	}
	response, err := dv.AuthorizeUser(dv.Namespace, dv.Name, cloneAuthProxy{ctx: ctx, d: d}, userInfo)
	if err != nil && err != cdiv1.ErrNoTokenOkay {
		return err
	}
	if !response.Allowed {
		return apierrors.NewForbidden(apps.Resource("vmdisks"), dv.Name, fmt.Errorf(
			"%s: cloning from namespace %s needs create on datavolumes/source (cdi.kubevirt.io) there",
			response.Reason, response.Handler.SourceNamespace))
	}
	return nil
}

// cloneAuthProxy gives CDI's helper the lookups it needs.
type cloneAuthProxy struct {
	ctx context.Context
	d   dataVolumes
}

func (p cloneAuthProxy) CreateSar(sar *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
	return p.d.Kube.AuthorizationV1().SubjectAccessReviews().Create(p.ctx, sar, metav1.CreateOptions{})
}

func (p cloneAuthProxy) GetNamespace(name string) (*corev1.Namespace, error) {
	return p.d.Kube.CoreV1().Namespaces().Get(p.ctx, name, metav1.GetOptions{})
}

func (p cloneAuthProxy) GetDataSource(namespace, name string) (*cdiv1.DataSource, error) {
	return p.d.CDI.CdiV1beta1().DataSources(namespace).Get(p.ctx, name, metav1.GetOptions{})
}
