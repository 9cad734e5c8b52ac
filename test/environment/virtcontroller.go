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

package environment

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// vmQueueDepth is virt-controller's metric of the VirtualMachines it has
// queued and not yet taken up.
const vmQueueDepth = `kubevirt_workqueue_depth{name="virt-controller-vm"} `

// VirtControllerQueue is how many VirtualMachines virt-controller has
// queued and not yet taken up, from its metrics: the benchmarks report how
// far behind it is while they measure.
func (e *Environment) VirtControllerQueue(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.virtControllerURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.componentClient(10 * time.Second).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("virt-controller's metrics: %s", resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), vmQueueDepth); ok {
			depth, err := strconv.ParseFloat(value, 64)
			return int(depth), err
		}
	}
	if err := lines.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("virt-controller's metrics have no %s", strings.TrimSpace(vmQueueDepth))
}
