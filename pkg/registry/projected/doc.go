// Package projected is the storage machinery shared by every resource of
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
package projected
