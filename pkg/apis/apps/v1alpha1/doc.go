// Package v1alpha1 is the v1alpha1 version of the apps.cozystack.io API:
// simple virtual machines (VMInstance) and their disks (VMDisk), served by
// vm-apiserver as projections of KubeVirt and CDI objects.
//
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.cozystack.apps.v1alpha1
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/cozystack/vm-apiserver/pkg/apis/apps
// +k8s:defaulter-gen=TypeMeta
// +groupName=apps.cozystack.io
package v1alpha1
