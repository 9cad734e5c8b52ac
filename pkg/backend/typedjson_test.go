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
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	kubevirtv1 "kubevirt.io/api/core/v1"
	cdischeme "kubevirt.io/client-go/containerizeddataimporter/scheme"
	kubevirtscheme "kubevirt.io/client-go/kubevirt/scheme"
	cdiv1beta1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// decoders are apimachinery's and typedJSONCodecs' decoders for KubeVirt's
// objects, as a typed client gets them.
func decoders(t testing.TB) (standard, typed runtime.Decoder) {
	return decodersFor(t, kubevirtscheme.Scheme, kubevirtscheme.Codecs, kubevirtv1.SchemeGroupVersion)
}

func decodersFor(t testing.TB, scheme *runtime.Scheme, codecs serializer.CodecFactory, gv schema.GroupVersion) (standard, typed runtime.Decoder) {
	t.Helper()
	standardCodecs := codecs.WithoutConversion()
	standardInfo, ok := runtime.SerializerInfoForMediaType(standardCodecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		t.Fatal("the scheme has no JSON serializer")
	}
	typedCodecs := newTypedJSONCodecs(scheme, codecs)
	typedInfo := typedCodecs.SupportedMediaTypes()[0]
	return standardCodecs.DecoderToVersion(standardInfo.Serializer, gv), typedCodecs.DecoderToVersion(typedInfo.Serializer, gv)
}

func encodeJSON(t testing.TB, obj runtime.Object) []byte {
	return encodeJSONWith(t, kubevirtscheme.Codecs, kubevirtv1.SchemeGroupVersion, obj)
}

func encodeJSONWith(t testing.TB, codecs serializer.CodecFactory, gv schema.GroupVersion, obj runtime.Object) []byte {
	t.Helper()
	info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	var buf bytes.Buffer
	if err := codecs.EncoderForVersion(info.Serializer, gv).Encode(obj, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestTypedJSONDecodesRandomObjectsAsApimachineryDoes(t *testing.T) {
	seed := rand.Int63()
	t.Logf("random objects from seed %d", seed)
	for _, group := range []struct {
		scheme  *runtime.Scheme
		codecs  serializer.CodecFactory
		gv      schema.GroupVersion
		objects []func() runtime.Object
	}{
		{kubevirtscheme.Scheme, kubevirtscheme.Codecs, kubevirtv1.SchemeGroupVersion, []func() runtime.Object{
			func() runtime.Object { return &kubevirtv1.VirtualMachine{} },
			func() runtime.Object { return &kubevirtv1.VirtualMachineList{} },
			func() runtime.Object { return &kubevirtv1.VirtualMachineInstance{} },
			func() runtime.Object { return &kubevirtv1.VirtualMachineInstanceList{} },
		}},
		{cdischeme.Scheme, cdischeme.Codecs, cdiv1beta1.SchemeGroupVersion, []func() runtime.Object{
			func() runtime.Object { return &cdiv1beta1.DataVolume{} },
			func() runtime.Object { return &cdiv1beta1.DataVolumeList{} },
			func() runtime.Object { return &cdiv1beta1.DataSource{} },
		}},
	} {
		standard, typed := decodersFor(t, group.scheme, group.codecs, group.gv)
		filler := fuzzer.FuzzerFor(metafuzzer.Funcs, rand.NewSource(seed), group.codecs).NilChance(0.3).MaxDepth(12)
		for _, newObject := range group.objects {
			for i := range 50 {
				t.Run(fmt.Sprintf("%T/%d", newObject(), i), func(t *testing.T) {
					obj := newObject()
					filler.Fill(obj)
					data := encodeJSONWith(t, group.codecs, group.gv, obj)

					want, err := runtime.Decode(standard, data)
					if err != nil {
						t.Fatalf("apimachinery cannot decode the object: %v", err)
					}
					for name, into := range map[string]runtime.Object{"into nothing": nil, "into a typed object": newObject()} {
						got, _, err := typed.Decode(data, nil, into)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if !apiequality.Semantic.DeepEqual(want, got) {
							t.Fatalf("%s: decoded differently (-apimachinery +typed):\n%s", name, cmp.Diff(want, got))
						}
					}
				})
			}
		}
	}
}

// apimachineryUnused fails a test that hands a decode to apimachinery.
type apimachineryUnused struct {
	runtime.Serializer
	t *testing.T
}

func (s apimachineryUnused) Decode([]byte, *schema.GroupVersionKind, runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	s.t.Fatal("the decode was left to apimachinery")
	return nil, nil, nil
}

// The one-pass decoding is the point: objects, lists and watch events of
// KubeVirt's must not fall back to apimachinery's serializer.
func TestTypedJSONDecodesKubeVirtObjectsItself(t *testing.T) {
	typed := typedJSONSerializer{Serializer: apimachineryUnused{t: t}, creater: kubevirtscheme.Scheme, typer: kubevirtscheme.Scheme}
	vm := encodeJSON(t, &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm"}})
	list := encodeJSON(t, &kubevirtv1.VirtualMachineList{Items: []kubevirtv1.VirtualMachine{{ObjectMeta: metav1.ObjectMeta{Name: "vm"}}}})
	event := []byte(`{"type":"ADDED","object":` + string(vm) + `}`)
	for _, tc := range []struct {
		name string
		data []byte
		into runtime.Object
	}{
		{"an object into nothing", vm, nil},
		{"an object into its type", vm, &kubevirtv1.VirtualMachine{}},
		{"a list into its type", list, &kubevirtv1.VirtualMachineList{}},
		{"a watch event", event, &metav1.WatchEvent{}},
	} {
		if _, _, err := typed.Decode(tc.data, nil, tc.into); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
}

// KubeVirt rewrites DNS nameservers and the pod network's CIDR while it
// decodes them (010.000.000.001 becomes 10.0.0.1); the typed decoder must
// too.
func TestTypedJSONRewritesWhatKubeVirtRewritesWhileDecoding(t *testing.T) {
	standard, typed := decoders(t)
	vmi := &kubevirtv1.VirtualMachineInstance{
		ObjectMeta: metav1.ObjectMeta{Name: "vm"},
		Spec: kubevirtv1.VirtualMachineInstanceSpec{
			DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"010.000.000.001", "0:0:0:0:0:0:0:1"}},
			Networks: []kubevirtv1.Network{{Name: "default", NetworkSource: kubevirtv1.NetworkSource{
				Pod: &kubevirtv1.PodNetwork{VMNetworkCIDR: "010.000.002.000/24"},
			}}},
		},
	}
	data := encodeJSON(t, vmi)

	want, err := runtime.Decode(standard, data)
	if err != nil {
		t.Fatal(err)
	}
	if got := want.(*kubevirtv1.VirtualMachineInstance).Spec.DNSConfig.Nameservers[0]; got != "10.0.0.1" {
		t.Fatalf("KubeVirt's decoding left nameserver %q; this test expects it rewritten to 10.0.0.1", got)
	}
	got, err := runtime.Decode(typed, data)
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(want, got) {
		t.Fatalf("decoded differently (-apimachinery +typed):\n%s", cmp.Diff(want, got))
	}
}

func TestTypedJSONDecodesAWatchEventAndItsObject(t *testing.T) {
	_, typed := decoders(t)
	vm := &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "tenant", ResourceVersion: "42"}}
	event := []byte(`{"type":"MODIFIED","object":` + string(encodeJSON(t, vm)) + `}`)

	var got metav1.WatchEvent
	if _, _, err := typed.Decode(event, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "MODIFIED" {
		t.Fatalf("event type %q, want MODIFIED", got.Type)
	}
	obj, err := runtime.Decode(typed, got.Object.Raw)
	if err != nil {
		t.Fatal(err)
	}
	decoded, ok := obj.(*kubevirtv1.VirtualMachine)
	if !ok || decoded.Name != "vm" || decoded.ResourceVersion != "42" {
		t.Fatalf("decoded %#v, want VirtualMachine tenant/vm at 42", obj)
	}
}

// A Status where an object was expected is how a client tells a failure
// that came with a success code; the decoder must not read it into the
// object.
func TestTypedJSONDecodesAStatusInPlaceOfTheObjectAsAStatus(t *testing.T) {
	_, typed := decoders(t)
	status := []byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"gone","reason":"NotFound","code":404}`)

	obj, _, err := typed.Decode(status, nil, &kubevirtv1.VirtualMachine{})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := obj.(*metav1.Status); !ok || got.Reason != metav1.StatusReasonNotFound {
		t.Fatalf("decoded %#v, want the NotFound Status", obj)
	}
}

func TestTypedJSONLeavesUnstructuredObjectsToApimachinery(t *testing.T) {
	standard, typed := decoders(t)
	data := encodeJSON(t, &kubevirtv1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm"}})

	var want, got unstructured.Unstructured
	if _, _, err := standard.Decode(data, nil, &want); err != nil {
		t.Fatal(err)
	}
	if _, _, err := typed.Decode(data, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetName() != "vm" || !apiequality.Semantic.DeepEqual(want, got) {
		t.Fatalf("decoded %v, want %v", got.Object, want.Object)
	}
}

func TestLeadingKind(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want schema.GroupVersionKind
	}{
		{"object", `{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{}}`, kubevirtv1.VirtualMachineGroupVersionKind},
		{"kind first", `{"kind":"Status","apiVersion":"v1","code":404}`, schema.GroupVersionKind{Version: "v1", Kind: "Status"}},
		{"list, kind after items", `{"apiVersion":"kubevirt.io/v1","items":[],"kind":"VirtualMachineList"}`, schema.GroupVersionKind{Group: "kubevirt.io", Version: "v1"}},
		{"no kind", `{"metadata":{}}`, schema.GroupVersionKind{}},
		{"not an object", `[]`, schema.GroupVersionKind{}},
		{"not JSON", `kind`, schema.GroupVersionKind{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := leadingKind([]byte(tc.data)); got != tc.want {
				t.Fatalf("leadingKind = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkDecodeVirtualMachineList compares the two decoders on a list
// page of 500 VirtualMachines as KubeVirt's controllers leave them
// (testdata/virtualmachine.json): go test -bench DecodeVirtualMachineList.
func BenchmarkDecodeVirtualMachineList(b *testing.B) {
	standard, typed := decoders(b)
	sample, err := os.ReadFile("testdata/virtualmachine.json")
	if err != nil {
		b.Fatal(err)
	}
	var vm kubevirtv1.VirtualMachine
	if _, _, err := standard.Decode(sample, nil, &vm); err != nil {
		b.Fatal(err)
	}
	list := &kubevirtv1.VirtualMachineList{Items: make([]kubevirtv1.VirtualMachine, 500)}
	for i := range list.Items {
		list.Items[i] = *vm.DeepCopy()
		list.Items[i].Name = fmt.Sprintf("vm-%d", i)
	}
	data := encodeJSON(b, list)
	for name, decoder := range map[string]runtime.Decoder{"apimachinery": standard, "typed": typed} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := decoder.Decode(data, nil, &kubevirtv1.VirtualMachineList{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
