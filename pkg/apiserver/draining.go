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
	"sync/atomic"
)

// draining tells the handler chain that the server has been asked to stop.
//
// From then on every response says "Connection: close". Over HTTP/1.1 the
// client learns with the answer itself that the connection is finished,
// so its next request opens a new connection, which the Service (or any
// balancer that reads /readyz) gives to another replica. By the time the
// listener closes, the only connections left here are ones the client
// has not used for the whole shutdown delay.
type draining struct{ started atomic.Bool }

// follow marks the server as draining once ctx ends, which is when the
// generic server starts failing /readyz.
func (d *draining) follow(ctx context.Context) {
	go func() {
		<-ctx.Done()
		d.started.Store(true)
	}()
}

// closeConnections wraps the whole handler chain, so that its own answers
// (a 429 after the delay, an authorization refusal) close too.
func (d *draining) closeConnections(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if d.started.Load() {
			w.Header().Set("Connection", "close")
		}
		handler.ServeHTTP(w, req)
	})
}
