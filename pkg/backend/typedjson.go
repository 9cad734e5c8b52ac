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

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// typedJSONDecodeOptions read what kube-apiserver writes the way
// apimachinery's serializer does: names matched by case, unknown fields
// ignored, duplicate names and invalid UTF-8 accepted.
var typedJSONDecodeOptions = json.JoinOptions(
	json.DefaultOptionsV2(),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
	json.WithUnmarshalers(kubeVirtUnmarshalers),
)

// kubeVirtUnmarshalers stand in for the UnmarshalJSON methods of KubeVirt
// types that decode the whole value again with encoding/json only to rewrite
// one field (DNS nameservers, the pod network's CIDR). The
// VirtualMachineInstanceSpec's is most of a VirtualMachine. The value is
// decoded in the same pass as the rest; when the field is set, the type's
// own method rewrites it, given that field alone.
var kubeVirtUnmarshalers = json.JoinUnmarshalers(
	json.UnmarshalFromFunc(func(dec *jsontext.Decoder, spec *kubevirtv1.VirtualMachineInstanceSpec) error {
		type withoutMethods kubevirtv1.VirtualMachineInstanceSpec
		if err := json.UnmarshalDecode(dec, (*withoutMethods)(spec)); err != nil {
			return err
		}
		if spec.DNSConfig == nil || len(spec.DNSConfig.Nameservers) == 0 {
			return nil
		}
		var rewritten kubevirtv1.VirtualMachineInstanceSpec
		only := kubevirtv1.VirtualMachineInstanceSpec{DNSConfig: &corev1.PodDNSConfig{Nameservers: spec.DNSConfig.Nameservers}}
		if err := rewriteWith(rewritten.UnmarshalJSON, (*withoutMethods)(&only)); err != nil {
			return err
		}
		spec.DNSConfig.Nameservers = rewritten.DNSConfig.Nameservers
		return nil
	}),
	json.UnmarshalFromFunc(func(dec *jsontext.Decoder, network *kubevirtv1.PodNetwork) error {
		type withoutMethods kubevirtv1.PodNetwork
		if err := json.UnmarshalDecode(dec, (*withoutMethods)(network)); err != nil {
			return err
		}
		if network.VMNetworkCIDR == "" {
			return nil
		}
		var rewritten kubevirtv1.PodNetwork
		if err := rewriteWith(rewritten.UnmarshalJSON, withoutMethods{VMNetworkCIDR: network.VMNetworkCIDR}); err != nil {
			return err
		}
		network.VMNetworkCIDR = rewritten.VMNetworkCIDR
		return nil
	}),
)

// rewriteWith gives a KubeVirt UnmarshalJSON method the field it rewrites,
// as JSON (as read: invalid UTF-8 is kept).
func rewriteWith(unmarshalJSON func([]byte) error, field any) error {
	data, err := json.Marshal(field, jsontext.AllowInvalidUTF8(true))
	if err != nil {
		return err
	}
	return unmarshalJSON(data)
}

// typedJSONCodecs is a scheme's codecs, JSON only, whose decoder reads typed
// objects in one pass with the JSON v2 decoder, and whose watch streams are
// split with jsonFramer. apimachinery's serializer reads every body twice
// with encoding/json, once only to find its kind, and decoding the
// VirtualMachines was most of vm-apiserver's CPU in lists and watches
// (docs/benchmarks.md). Encoding is apimachinery's.
type typedJSONCodecs struct {
	serializer.WithoutConversionCodecFactory
	json runtime.SerializerInfo
}

func newTypedJSONCodecs(scheme *runtime.Scheme, codecs serializer.CodecFactory) runtime.NegotiatedSerializer {
	info, _ := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	info.Serializer = typedJSONSerializer{Serializer: info.Serializer, creater: scheme, typer: scheme}
	stream := *info.StreamSerializer
	stream.Serializer = typedJSONSerializer{Serializer: stream.Serializer, creater: scheme, typer: scheme}
	stream.Framer = jsonFramer{Framer: stream.Framer}
	info.StreamSerializer = &stream
	return typedJSONCodecs{WithoutConversionCodecFactory: serializer.WithoutConversionCodecFactory{CodecFactory: codecs}, json: info}
}

func (c typedJSONCodecs) SupportedMediaTypes() []runtime.SerializerInfo {
	return []runtime.SerializerInfo{c.json}
}

// typedJSONSerializer decodes into typed objects itself and leaves
// everything else (encoding, unstructured objects, bodies whose kind it
// cannot tell) to apimachinery's serializer.
type typedJSONSerializer struct {
	runtime.Serializer
	creater runtime.ObjectCreater
	typer   runtime.ObjectTyper
}

func (s typedJSONSerializer) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	target := s.target(data, into)
	if target == nil {
		return s.Serializer.Decode(data, defaults, into)
	}
	if err := json.Unmarshal(data, target, typedJSONDecodeOptions); err != nil {
		return nil, nil, err
	}
	gvk := target.GetObjectKind().GroupVersionKind()
	return target, &gvk, nil
}

// target is the typed object to decode data into, or nil when
// apimachinery's serializer should: into if data is of its kind, else a new
// object of data's kind.
func (s typedJSONSerializer) target(data []byte, into runtime.Object) runtime.Object {
	if _, unstructured := into.(runtime.Unstructured); unstructured {
		return nil
	}
	gvk := leadingKind(data)
	if into == nil {
		if gvk.Version == "" || gvk.Kind == "" {
			return nil
		}
		obj, err := s.creater.New(gvk)
		if err != nil {
			return nil
		}
		return obj
	}
	kinds, _, err := s.typer.ObjectKinds(into)
	if err != nil || (gvk.Kind != "" && gvk.Kind != kinds[0].Kind) {
		return nil
	}
	return into
}

// leadingKind is data's apiVersion and kind as far as they lead the object,
// which is where kube-apiserver writes them (a list's kind comes after its
// items, so a list yields only its apiVersion); it stops at the first other
// member instead of reading the whole body.
func leadingKind(data []byte) schema.GroupVersionKind {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return schema.GroupVersionKind{}
	}
	var apiVersion, kind string
	for apiVersion == "" || kind == "" {
		name, err := dec.ReadToken()
		if err != nil || name.Kind() != '"' {
			break
		}
		field := name.String()
		if field != "apiVersion" && field != "kind" {
			break
		}
		value, err := dec.ReadToken()
		if err != nil || value.Kind() != '"' {
			break
		}
		if field == "apiVersion" {
			apiVersion = value.String()
		} else {
			kind = value.String()
		}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{Kind: kind}
	}
	return gv.WithKind(kind)
}
