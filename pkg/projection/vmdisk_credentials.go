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

package projection

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backendnames"
	"github.com/cozystack/vm-apiserver/pkg/credentials"
)

// URL userinfo of an HTTP source goes to a Secret that CDI reads through the
// DataVolume's source.http.secretRef (keys accessKeyId and secretKey, sent
// as basic auth), and the DataVolume's url has no userinfo. It cannot share
// the headers Secret: CDI mounts each secretExtraHeaders Secret and sends
// every key of it as a header line. The username is kept as written
// (percent-encoded, if it was) in backendnames.URLUsernameAnnotation on the
// DataVolume, the only place besides the Secret that could hold it.
const (
	// Keys of the credentials Secret, as CDI's secretRef reads them.
	URLAccessKeyIDKey = "accessKeyId"
	URLSecretKeyKey   = "secretKey"
)

// CredentialsSecretFor is the Secret holding the userinfo of disk's HTTP
// source URL, or nil when the URL has none. The values are unescaped, as
// they go on the wire. The caller adds the owner reference to the
// DataVolume.
func CredentialsSecretFor(disk *apps.VMDisk) *corev1.Secret {
	if disk.Spec.Source.HTTP == nil {
		return nil
	}
	_, username, password, _, ok := credentials.SplitURLUserinfo(disk.Spec.Source.HTTP.URL)
	if !ok {
		return nil
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      backendnames.CredentialsSecretName(disk.Name),
			Namespace: disk.Namespace,
			Labels:    map[string]string{backendnames.KindLabel: backendnames.VMDiskKind},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			URLAccessKeyIDKey: []byte(unescapeUserinfo(username)),
			URLSecretKeyKey:   []byte(unescapeUserinfo(password)),
		},
	}
}

// unescapeUserinfo decodes percent-encoding as net/url does for userinfo;
// a malformed escape (which validation refuses) is kept as written.
func unescapeUserinfo(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// SecretsFor are the Secrets that hold disk's credentials (headers and URL
// userinfo), created with its DataVolume and owned by it.
func SecretsFor(disk *apps.VMDisk) []*corev1.Secret {
	var secrets []*corev1.Secret
	if s := HeadersSecretFor(disk); s != nil {
		secrets = append(secrets, s)
	}
	if s := CredentialsSecretFor(disk); s != nil {
		secrets = append(secrets, s)
	}
	return secrets
}
