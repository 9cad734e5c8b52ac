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

// Package backendstore is the storage machinery shared by every resource of
// vm-apiserver: a rest.Storage whose objects are projections of a primary
// backend object (a VirtualMachine, a DataVolume) read and written through a
// typed client of kube-apiserver.
//
// Reads of the primary object go straight to kube-apiserver (which serves
// them from its watch cache), so resourceVersion semantics, label and field
// selectors, limit/continue, watch bookmarks and the WatchList protocol are
// exactly those of a built-in resource. The public resourceVersion and uid
// are the backend object's. The resource-specific part (translation, writes
// of the backend objects) is an Adapter.
package backendstore
