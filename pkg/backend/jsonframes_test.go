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
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// frames reads every frame of stream with a frame reader of framer, through
// a buffer of size bytes, as a watch does.
func frames(t *testing.T, framer runtime.Framer, stream string, size int) ([]string, error) {
	t.Helper()
	reader := framer.NewFrameReader(io.NopCloser(strings.NewReader(stream)))
	var got []string
	var frame []byte
	buf := make([]byte, size)
	for {
		n, err := reader.Read(buf)
		frame = append(frame, buf[:n]...)
		switch {
		case errors.Is(err, io.ErrShortBuffer):
			continue
		case err != nil:
			return got, err
		}
		got = append(got, string(frame))
		frame = nil
	}
}

func TestJSONFramerSplitsAStreamAsApimachineryDoes(t *testing.T) {
	stream := `{"type":"ADDED","object":{"kind":"VirtualMachine","metadata":{"name":"a"}}}
{"type":"MODIFIED","object":{"kind":"VirtualMachine","metadata":{"name":"b","labels":{"x":"y"}}}}` +
		`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}` + "\n\n" +
		`{"type":"DELETED","object":{"kind":"VirtualMachine","metadata":{"name":"c \"quoted\" }"}}}`
	for _, size := range []int{1, 7, 64, 4096} {
		want, wantErr := frames(t, json.Framer, stream, size)
		got, err := frames(t, jsonFramer{Framer: json.Framer}, stream, size)
		if !errors.Is(wantErr, io.EOF) || !errors.Is(err, io.EOF) {
			t.Fatalf("buffer of %d: streams ended with %v (apimachinery) and %v, want EOF", size, wantErr, err)
		}
		if len(got) != 4 {
			t.Fatalf("buffer of %d: %d frames, want 4: %q", size, len(got), got)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("buffer of %d: frames differ (-apimachinery +jsonFramer):\n%s", size, diff)
		}
	}
}

// A watch tells a closed connection from a malformed event by the error
// the frame reader returns, so the errors must be apimachinery's.
func TestJSONFramerEndsAStreamWithTheErrorsApimachineryGives(t *testing.T) {
	timeout := errors.New("i/o timeout")
	for _, tc := range []struct {
		name   string
		stream io.Reader
		want   error
	}{
		{"cut within an event", strings.NewReader(`{"type":"ADDED","object":{}}{"type":`), io.ErrUnexpectedEOF},
		{"the connection's error", io.MultiReader(strings.NewReader(`{"type":"ADDED","object":{}}{"ty`), failingReader{timeout}), timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reader := jsonFramer{Framer: json.Framer}.NewFrameReader(io.NopCloser(tc.stream))
			buf := make([]byte, 4096)
			if _, err := reader.Read(buf); err != nil {
				t.Fatalf("first event: %v", err)
			}
			if _, err := reader.Read(buf); err != tc.want {
				t.Fatalf("second read: %v, want %v itself", err, tc.want)
			}
		})
	}
	got, err := frames(t, jsonFramer{Framer: json.Framer}, `{"type":"ADDED","object":{}} x`, 4096)
	if len(got) != 1 || err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("malformed stream: frames %q and %v, want one frame and a syntax error", got, err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }
