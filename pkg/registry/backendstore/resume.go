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

package backendstore

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

// StartWatch starts a backend watch.
type StartWatch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)

// Resuming a backend watch: kube-apiserver ends every watch on its own timer
// and on restart; a public watch must neither end with it nor miss what
// happens meanwhile.
const (
	// resumeBudget is how long a backend watch may fail to start again
	// before the public watch gives up and tells its client to list again.
	resumeBudget = 30 * time.Second
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// RunResuming sends the events of a backend watch to out until ctx ends. When
// the backend ends the watch, it starts it again from the newest
// resourceVersion it delivered (bookmarks included, which it asks for so
// that a quiet watch still learns its position), so that out sees one
// unbroken stream. Bookmarks go to out only when callerBookmarks says the
// caller asked for them. When the watch cannot go on (410 Gone, a watch that
// ended before it delivered a position or its initial events, or restarts
// failing for resumeBudget), the last event on out is an error: its receiver
// must end the public watch with it, so that the client lists again. w is
// the watch already started with opts, bookmarks asked for, or nil. resource
// names the backend resource in the resumes metric.
func RunResuming(ctx context.Context, resource string, start StartWatch, w watch.Interface, opts metav1.ListOptions, callerBookmarks bool, out chan<- watch.Event) {
	opts.AllowWatchBookmarks = true
	initialPending := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	position, _ := strconv.ParseUint(opts.ResourceVersion, 10, 64)
	send := func(event watch.Event) bool { return Send(ctx, out, event) }
	fail := func(err error) {
		send(watch.Event{Type: watch.Error, Object: expiredStatus(err)})
	}
	backoff := firstBackoff
	var failingSince time.Time
	for {
		if w == nil {
			var err error
			w, err = start(ctx, opts)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					fail(err)
					return
				}
				if failingSince.IsZero() {
					failingSince = time.Now()
				}
				if time.Since(failingSince) > resumeBudget {
					fail(err)
					return
				}
				klog.V(2).InfoS("Restarting a backend watch failed; retrying", "resourceVersion", opts.ResourceVersion, "err", err)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			failingSince, backoff = time.Time{}, firstBackoff
		}
		ended, ok := forwardUntilEnd(ctx, w, callerBookmarks, &position, &initialPending, send)
		w.Stop()
		w = nil
		if !ok {
			return
		}
		if ended != nil {
			if st, isStatus := ended.Object.(*metav1.Status); isStatus && (st.Code == http.StatusGone || st.Reason == metav1.StatusReasonExpired || st.Reason == metav1.StatusReasonGone) {
				send(*ended)
				return
			}
			klog.V(2).InfoS("A backend watch ended with an error; resuming", "status", ended.Object)
		}
		if initialPending {
			fail(fmt.Errorf("the backend watch ended before it sent all initial events"))
			return
		}
		if position == 0 {
			fail(fmt.Errorf("the backend watch ended before it told a resourceVersion to resume from"))
			return
		}
		opts.ResourceVersion = strconv.FormatUint(position, 10)
		opts.SendInitialEvents = nil
		opts.ResourceVersionMatch = ""
		backendWatchResumes.WithLabelValues(resource).Inc()
	}
}

// forwardUntilEnd sends w's events until w ends (nil: closed; or the error
// event that ended it), advancing *position to the newest resourceVersion
// seen. ok is false when ctx ended or the receiver is gone.
func forwardUntilEnd(ctx context.Context, w watch.Interface, callerBookmarks bool, position *uint64, initialPending *bool, send func(watch.Event) bool) (*watch.Event, bool) {
	for {
		var event watch.Event
		select {
		case <-ctx.Done():
			return nil, false
		case e, open := <-w.ResultChan():
			if !open {
				return nil, true
			}
			event = e
		}
		if event.Type == watch.Error {
			return &event, true
		}
		if m, err := meta.Accessor(event.Object); err == nil {
			// Initial events of a watch from "0" or with sendInitialEvents
			// come in no order; the newest of them is at most the stream's
			// position, so resuming from it may repeat events, never lose one.
			if rv, err := strconv.ParseUint(m.GetResourceVersion(), 10, 64); err == nil && rv > *position {
				*position = rv
			}
			if event.Type == watch.Bookmark && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
				*initialPending = false
			}
		}
		if event.Type == watch.Bookmark && !callerBookmarks {
			continue
		}
		if !send(event) {
			return nil, false
		}
	}
}

// Send sends v on out unless ctx ends first; it tells whether it sent.
func Send[T any](ctx context.Context, out chan<- T, v T) bool {
	select {
	case out <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// backendWatchResumes counts the backend watches started again after
// kube-apiserver ended them.
var backendWatchResumes = metrics.NewCounterVec(&metrics.CounterOpts{
	Name:           "vm_apiserver_backend_watch_resumes_total",
	Help:           "Backend watches started again from their last resourceVersion after kube-apiserver ended them, by backend resource.",
	StabilityLevel: metrics.ALPHA,
}, []string{"resource"})

func init() {
	legacyregistry.MustRegister(backendWatchResumes)
}

// expiredStatus is the error that ends a public watch that cannot go on: 410
// Expired, which makes client-go's reflectors (and informers) list again.
func expiredStatus(cause error) *metav1.Status {
	return &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusGone,
		Reason:  metav1.StatusReasonExpired,
		Message: fmt.Sprintf("the watch cannot go on (%v); list again", cause),
	}
}
