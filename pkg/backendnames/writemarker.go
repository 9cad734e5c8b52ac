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

package backendnames

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// NewWriteMarker is the WriteInProgressAnnotation of one write that starts
// now: when it started, and a random part that tells it from any other
// write.
func NewWriteMarker() string {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return time.Now().UTC().Format(time.RFC3339Nano) + " " + hex.EncodeToString(id)
}

// WriteMarkerStarted is when the write a WriteInProgressAnnotation marks
// started; false when the marker does not say.
func WriteMarkerStarted(marker string) (time.Time, bool) {
	stamp, _, _ := strings.Cut(marker, " ")
	started, err := time.Parse(time.RFC3339Nano, stamp)
	return started, err == nil
}
