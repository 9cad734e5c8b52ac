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

package vmdisk

import (
	"context"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/registry/tables"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the disk."},
	{Name: "Phase", Type: "string", Description: "Phase of the DataVolume."},
	{Name: "Progress", Type: "string", Description: "Progress of the import or clone."},
	{Name: "Size", Type: "string", Description: "Requested size."},
	{Name: "Class", Type: "string", Description: "Storage class."},
	{Name: "Optical", Type: "boolean", Description: "Whether the disk is an ISO attached as a CD-ROM."},
	{Name: "Age", Type: "string", Format: "date", Description: "Time since creation."},
	{Name: "Source", Type: "string", Priority: 1, Description: "Where the content comes from."},
	{Name: "Used-By", Type: "string", Priority: 1, Description: "VMInstances that attach the disk."},
}

// tableConvertor renders VMDisks for kubectl get.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return tables.Build(columns, obj, func(o runtime.Object) ([]interface{}, error) {
		disk := o.(*apps.VMDisk)
		size := ""
		if disk.Spec.Storage != nil {
			size = disk.Spec.Storage.String()
		}
		return []interface{}{
			disk.Name,
			disk.Status.Phase,
			disk.Status.Progress,
			size,
			disk.Spec.StorageClass,
			strconv.FormatBool(disk.Spec.Optical),
			tables.Age(disk.CreationTimestamp),
			sourceSummary(&disk.Spec.Source),
			strings.Join(disk.Status.UsedBy, ","),
		}, nil
	})
}

// sourceSummary is the one-line form of a disk source.
func sourceSummary(src *apps.VMDiskSource) string {
	switch {
	case src.HTTP != nil:
		return "http:" + src.HTTP.URL
	case src.Registry != nil:
		return "registry:" + src.Registry.URL
	case src.PVC != nil:
		return "pvc:" + src.PVC.Namespace + "/" + src.PVC.Name
	case src.Snapshot != nil:
		return "snapshot:" + src.Snapshot.Namespace + "/" + src.Snapshot.Name
	default:
		return "blank"
	}
}
