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

	"github.com/go-json-experiment/json/jsontext"
	"k8s.io/apimachinery/pkg/runtime"
)

// jsonFramer splits a watch stream into its events with the JSON v2
// tokenizer. apimachinery's framer finds each event's end by reading it
// with encoding/json, about a tenth of vm-apiserver's CPU while informers
// sync. Writing frames is apimachinery's.
type jsonFramer struct {
	runtime.Framer
}

func (f jsonFramer) NewFrameReader(r io.ReadCloser) io.ReadCloser {
	source := &sourceReader{ReadCloser: r}
	return &jsonFrameReader{source: source, values: jsontext.NewDecoder(source, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
}

// jsonFrameReader reads one JSON value per Read, as apimachinery's frame
// readers do: a value longer than the buffer fills it, and the rest comes
// with the next Reads, each but the last with io.ErrShortBuffer.
type jsonFrameReader struct {
	source    *sourceReader
	values    *jsontext.Decoder
	remaining []byte
}

// sourceReader keeps the stream's read error, which the tokenizer wraps.
type sourceReader struct {
	io.ReadCloser
	err error
}

func (r *sourceReader) Read(data []byte) (int, error) {
	n, err := r.ReadCloser.Read(data)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (r *jsonFrameReader) Close() error { return r.source.Close() }

func (r *jsonFrameReader) Read(data []byte) (int, error) {
	frame := r.remaining
	if len(frame) == 0 {
		value, err := r.values.ReadValue()
		if err != nil {
			return 0, r.readError(err)
		}
		frame = value
	}
	n := copy(data, frame)
	if n == len(frame) {
		r.remaining = nil
		return n, nil
	}
	// The decoder reuses value's bytes on its next read.
	r.remaining = append([]byte(nil), frame[n:]...)
	return n, io.ErrShortBuffer
}

// readError is err as apimachinery's frame readers give it, which is what
// a watch tells by: the stream's own error (a closed or timed-out
// connection), io.EOF between values, io.ErrUnexpectedEOF within one, or
// else malformed JSON.
func (r *jsonFrameReader) readError(err error) error {
	switch {
	case r.source.err != nil:
		return r.source.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return io.ErrUnexpectedEOF
	default:
		return err
	}
}
