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

package vminstance

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
)

var vminstances = apps.Resource("vminstances")

func conflict(name string, err error) error {
	return apierrors.NewConflict(vminstances, name, err)
}

// ownedWriteError tells, in terms of the VMInstance, why writing one of its
// Services or Secrets failed; outcome says what became of the rest of the
// write.
func ownedWriteError(name string, o ownedObject, err error, outcome string) error {
	what := fmt.Sprintf("%s %s", o.kind, o.name)
	switch {
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err), apierrors.IsNotFound(err):
		return conflict(name, fmt.Errorf("%s changed while the VMInstance was written (%v); %s, try again", what, err, outcome))
	case apierrors.IsInvalid(err):
		return apierrors.NewInvalid(apps.Kind(backendnames.VMInstanceKind), name, field.ErrorList{
			field.Invalid(field.NewPath("spec"), nil, fmt.Sprintf("the cluster refused its %s (%v); %s", what, err, outcome)),
		})
	case o.kind == "Service" && allocationFailed(err):
		return apierrors.NewServiceUnavailable(fmt.Sprintf(
			"VMInstance %q: the cluster could not allocate what its LoadBalancer %s needs for spec.externalPorts (%v); %s", name, what, err, outcome))
	case apierrors.IsForbidden(err):
		// The server's own identity was refused (a quota, an admission
		// policy): the user's request is what cannot be done.
		return apierrors.NewForbidden(vminstances, name, fmt.Errorf("writing its %s was refused (%v); %s", what, err, outcome))
	}
	return apierrors.NewInternalError(fmt.Errorf("VMInstance %q: writing its %s failed (%w); %s", name, what, err, outcome))
}

// allocationFailed recognises kube-apiserver's "failed to allocate a
// nodePort/serviceIP: range is full", which it answers as a bare 500.
func allocationFailed(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status) && strings.Contains(status.Status().Message, "failed to allocate")
}
