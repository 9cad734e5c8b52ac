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

// Package credentials says which parts of a VMDisk's HTTP source are
// credentials, kept in Secrets rather than the DataVolume, and how they read
// back redacted. It imports no backend API, so that validation can use it.
//
// URL userinfo of an HTTP source (https://user:password@host/x.img) is a
// credential. The VMDisk reads back with the username kept and the password
// replaced by RedactedURLPassword: the username says which account the
// import uses (and an update that changes it is a change of the immutable
// source), while the password never reaches a reader of VMDisks.
package credentials

import "strings"

const (
	// RedactedHeaderValue stands for a credential header's value on read:
	// the value lives in a Secret, which readers of VMDisks may not see.
	RedactedHeaderValue = "(redacted: kept in a Secret)"
	// RedactedURLPassword stands for the password of a source URL on read.
	// Parentheses are allowed in URL userinfo (RFC 3986 sub-delims), so the
	// redacted URL still parses; no real password is restated by it, since
	// an update restating it keeps what is stored.
	RedactedURLPassword = "(redacted)"
)

// credentialWords mark a header name as carrying a credential. Matching
// too much only moves a harmless header into a Secret.
var credentialWords = []string{"auth", "token", "secret", "password", "passwd", "key", "cookie", "session", "credential", "signature"}

// IsCredentialHeader says whether an HTTP header's value is kept in a Secret
// instead of the DataVolume spec.
func IsCredentialHeader(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

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
	return WithRedactedPassword(stripped, username)
}

// WithRedactedPassword puts username and the redacted password into a URL
// without userinfo.
func WithRedactedPassword(stripped, username string) string {
	schemeEnd := strings.Index(stripped, "://")
	if schemeEnd < 0 {
		return stripped
	}
	authorityStart := schemeEnd + len("://")
	return stripped[:authorityStart] + username + ":" + RedactedURLPassword + "@" + stripped[authorityStart:]
}
