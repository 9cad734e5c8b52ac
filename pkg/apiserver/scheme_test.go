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
	"bytes"
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps/v1alpha1"
)

// writes counts the writes an encoder makes.
type writes struct {
	bytes.Buffer
	count int
}

func (w *writes) Write(p []byte) (int, error) {
	w.count++
	return w.Buffer.Write(p)
}

// TestServedGroupStreamsListsWithoutProtobuf checks the serializer the
// group is served with: no protobuf, and a JSON list written item by item
// as it is encoded (a list of 10,000 VMInstances is never one buffer).
func TestServedGroupStreamsListsWithoutProtobuf(t *testing.T) {
	serializer := servedGroup().NegotiatedSerializer
	var jsonInfo *runtime.SerializerInfo
	for _, info := range serializer.SupportedMediaTypes() {
		switch info.MediaType {
		case runtime.ContentTypeProtobuf:
			t.Fatal("protobuf is offered, which the types cannot be encoded in")
		case runtime.ContentTypeJSON:
			jsonInfo = &info
		}
	}
	if jsonInfo == nil {
		t.Fatal("JSON is not offered")
	}
	list := &v1alpha1.VMInstanceList{}
	for _, name := range []string{"a", "b", "c"} {
		list.Items = append(list.Items, v1alpha1.VMInstance{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tenant"}})
	}
	out := &writes{}
	encoder := serializer.EncoderForVersion(jsonInfo.Serializer, v1alpha1.SchemeGroupVersion)
	if err := encoder.Encode(list, out); err != nil {
		t.Fatal(err)
	}
	if out.count <= len(list.Items) {
		t.Fatalf("the list was written in %d writes: not streamed item by item", out.count)
	}
	var decoded v1alpha1.VMInstanceList
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil || len(decoded.Items) != 3 || decoded.Items[2].Name != "c" {
		t.Fatalf("the streamed list does not read back: %v %+v", err, decoded.Items)
	}
}
