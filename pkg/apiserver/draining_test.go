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

package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestDrainingClosesConnections: answers say "Connection: close" once the
// server has been asked to stop, and only then, whether the inner handler
// answers or not.
func TestDrainingClosesConnections(t *testing.T) {
	d := &draining{}
	handler := d.closeConnections(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	connection := func() string {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/apis", nil))
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("inner handler's status lost: %d", rec.Code)
		}
		return rec.Header().Get("Connection")
	}

	ctx, stop := context.WithCancel(context.Background())
	d.follow(ctx)
	if got := connection(); got != "" {
		t.Fatalf("Connection %q while serving", got)
	}
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for connection() != "close" {
		if time.Now().After(deadline) {
			t.Fatal("no Connection: close after the stop")
		}
		time.Sleep(time.Millisecond)
	}
}
