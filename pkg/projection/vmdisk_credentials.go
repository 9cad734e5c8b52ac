package projection

import (
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
)

// URL userinfo of an HTTP source (https://user:password@host/x.img) is a
// credential: it goes to a Secret that CDI reads through the DataVolume's
// source.http.secretRef (keys accessKeyId and secretKey, sent as basic
// auth), and the DataVolume's url has no userinfo. It cannot share the
// headers Secret: CDI mounts each secretExtraHeaders Secret and sends every
// key of it as a header line.
//
// The VMDisk reads back with the username kept and the password replaced by
// RedactedURLPassword: the username says which account the import uses (and
// an update that changes it is a change of the immutable source), while the
// password never reaches a reader of VMDisks. The username is kept as
// written (percent-encoded, if it was) in URLUsernameAnnotation on the
// DataVolume, the only place besides the Secret that could hold it.
const (
	// URLUsernameAnnotation holds the username of a source URL whose
	// userinfo is kept in the credentials Secret; its presence says that the
	// public URL has userinfo.
	URLUsernameAnnotation = ReservedPrefix + "url-username"
	// RedactedURLPassword stands for the password of a source URL on read.
	// Parentheses are allowed in URL userinfo (RFC 3986 sub-delims), so the
	// redacted URL still parses; no real password is restated by it, since
	// an update restating it keeps what is stored.
	RedactedURLPassword = "(redacted)"
	// Keys of the credentials Secret, as CDI's secretRef reads them.
	URLAccessKeyIDKey = "accessKeyId"
	URLSecretKeyKey   = "secretKey"
)

// CredentialsSecretName is the Secret holding the userinfo of disk's URL.
func CredentialsSecretName(disk string) string { return disk + "-http-credentials" }

// SplitURLUserinfo splits raw into the URL without userinfo and the
// userinfo's username and password as written (percent-encoded where they
// were). ok is false when raw has no userinfo. It cuts the string as
// net/url parses it (the authority runs from "//" to the first "/", "?" or
// "#"; userinfo ends at its last "@"), but leaves the rest exactly as
// written, so that a URL reads back as it was given.
func SplitURLUserinfo(raw string) (stripped, username, password string, hasPassword, ok bool) {
	schemeEnd := strings.Index(raw, "://")
	if schemeEnd < 0 || strings.ContainsAny(raw[:schemeEnd], "/?#") {
		return raw, "", "", false, false
	}
	authorityStart := schemeEnd + len("://")
	authority := raw[authorityStart:]
	if end := strings.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw, "", "", false, false
	}
	username, password, hasPassword = strings.Cut(authority[:at], ":")
	return raw[:authorityStart] + raw[authorityStart+at+1:], username, password, hasPassword, true
}

// RedactURL is raw as a VMDisk shows it: the password of its userinfo, if
// it has userinfo, replaced by RedactedURLPassword.
func RedactURL(raw string) string {
	stripped, username, _, _, ok := SplitURLUserinfo(raw)
	if !ok {
		return raw
	}
	return withUserinfo(stripped, username)
}

// withUserinfo puts username and the redacted password into a URL without
// userinfo.
func withUserinfo(stripped, username string) string {
	schemeEnd := strings.Index(stripped, "://")
	if schemeEnd < 0 {
		return stripped
	}
	authorityStart := schemeEnd + len("://")
	return stripped[:authorityStart] + username + ":" + RedactedURLPassword + "@" + stripped[authorityStart:]
}

// CredentialsSecretFor is the Secret holding the userinfo of disk's HTTP
// source URL, or nil when the URL has none. The values are unescaped, as
// they go on the wire. The caller adds the owner reference to the
// DataVolume.
func CredentialsSecretFor(disk *apps.VMDisk) *corev1.Secret {
	if disk.Spec.Source.HTTP == nil {
		return nil
	}
	_, username, password, _, ok := SplitURLUserinfo(disk.Spec.Source.HTTP.URL)
	if !ok {
		return nil
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CredentialsSecretName(disk.Name), Namespace: disk.Namespace, Labels: map[string]string{KindLabel: VMDiskKind}},
		Type:       corev1.SecretTypeOpaque,
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
