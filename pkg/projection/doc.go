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

// Package projection translates between the public apps.cozystack.io objects
// and the backend objects that store them. Every function here is pure:
// objects in, objects out, no I/O. Storage code fetches and writes the
// backend objects and delegates the translation to this package. The names
// and reserved keys it gives backend objects are backendnames'.
package projection
