// Package apps is the internal version of the apps.cozystack.io API group.
// Every served version converts to and from these types.
//
// +k8s:deepcopy-gen=package
// +groupName=apps.cozystack.io
package apps
