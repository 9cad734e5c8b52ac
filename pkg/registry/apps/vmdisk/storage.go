package vmdisk

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"kubevirt.io/client-go/containerizeddataimporter"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/backend"
	"github.com/cozystack/vm-apiserver/pkg/projection"
	"github.com/cozystack/vm-apiserver/pkg/registry/projected"
)

// DataVolumes is the backend resource of VMDisks.
var DataVolumes = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}

// Store is the REST storage of VMDisks.
type Store = projected.Store[*cdiv1.DataVolume, *cdiv1.DataVolumeList]

// NewREST returns the VMDisk storage over the DataVolumes reached by cdi.
func NewREST(cdi containerizeddataimporter.Interface, availability *backend.Availability, typer runtime.ObjectTyper) *Store {
	return &Store{
		Resource:        dataVolumes{cdi: cdi},
		PublicResource:  apps.Resource("vmdisks"),
		SingularName:    "vmdisk",
		Kind:            projection.VMDiskKind,
		BackendResource: DataVolumes,
		BackendProvider: "CDI",
		Availability:    availability,
		NewFunc:         func() runtime.Object { return &apps.VMDisk{} },
		NewListFunc:     func() runtime.Object { return &apps.VMDiskList{} },
		Strategy:        newStrategy(typer),
		TableConvertor:  tableConvertor{},
		ShortNamesList:  []string{"vmd"},
		CategoryList:    []string{"all"},
	}
}

// dataVolumes reads and writes the DataVolume of each VMDisk.
type dataVolumes struct {
	cdi containerizeddataimporter.Interface
}

func (d dataVolumes) Client(namespace string) projected.Client[*cdiv1.DataVolume, *cdiv1.DataVolumeList] {
	return d.cdi.CdiV1beta1().DataVolumes(namespace)
}

func (dataVolumes) Items(list *cdiv1.DataVolumeList) []*cdiv1.DataVolume {
	items := make([]*cdiv1.DataVolume, len(list.Items))
	for i := range list.Items {
		items[i] = &list.Items[i]
	}
	return items
}

func (dataVolumes) ToPublic(_ context.Context, dv *cdiv1.DataVolume) (runtime.Object, error) {
	return projection.VMDiskFrom(dv)
}

func (d dataVolumes) Create(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (*cdiv1.DataVolume, error) {
	dv, err := projection.DataVolumeFor(obj.(*apps.VMDisk), nil)
	if err != nil {
		return nil, err
	}
	return d.cdi.CdiV1beta1().DataVolumes(dv.Namespace).Create(ctx, dv, metav1.CreateOptions{DryRun: opts.DryRun})
}

func (d dataVolumes) Update(ctx context.Context, obj runtime.Object, current *cdiv1.DataVolume, opts *metav1.UpdateOptions) (*cdiv1.DataVolume, error) {
	dv, err := projection.DataVolumeFor(obj.(*apps.VMDisk), current)
	if err != nil {
		return nil, err
	}
	return d.cdi.CdiV1beta1().DataVolumes(dv.Namespace).Update(ctx, dv, metav1.UpdateOptions{DryRun: opts.DryRun})
}
