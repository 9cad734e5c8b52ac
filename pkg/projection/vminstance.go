package projection

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubevirtv1 "kubevirt.io/api/core/v1"
	instancetypev1beta1 "kubevirt.io/api/instancetype/v1beta1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/cozystack/vm-apiserver/pkg/apis/apps"
	"github.com/cozystack/vm-apiserver/pkg/catalogue"
)

const (
	// VMInstanceKind is the KindLabel value of VirtualMachines that are
	// VMInstances.
	VMInstanceKind = "VMInstance"
	// InstanceLabel names the VMInstance on its Service, Secrets and the
	// VM's pod template (where the Service selects it).
	InstanceLabel = ReservedPrefix + "instance"
	// ProfileAnnotation keeps the profile name as the user wrote it; the VM
	// only knows the preference.
	ProfileAnnotation = ReservedPrefix + "instance-profile"
	// InstanceTypeAnnotation keeps the instance type when resources override
	// it, since the VM then carries explicit sizes instead of a matcher.
	InstanceTypeAnnotation = ReservedPrefix + "instance-type"
	// OverridesAnnotation lists which of cpu and memory the user set in
	// resources; their values are read back from the VM's domain.
	OverridesAnnotation = ReservedPrefix + "resource-overrides"
	// PortsAnnotation keeps externalPorts while external is false and there
	// is no Service to hold them.
	PortsAnnotation = ReservedPrefix + "external-ports"
	// MinimalUserDataAnnotation marks a cloud-init Secret generated only to
	// carry SSH keys (KubeVirt needs a noCloud volume for them); it reads
	// back as an empty cloudInit.
	MinimalUserDataAnnotation = ReservedPrefix + "minimal-user-data"
	// WriteInProgressAnnotation marks a VM whose VMInstance is being written
	// (its Services and Secrets may not match it yet); its value says when
	// the write started, and which write it is.
	WriteInProgressAnnotation = ReservedPrefix + "write-in-progress"

	// CloudInitVolume is the VM volume holding cloud-init; no disk may
	// take its name.
	CloudInitVolume = "cloudinit"
	userDataKey     = "userdata"
	sshKeyPrefix    = "key"
	minimalUserData = "#cloud-config\n"
	podNetwork      = "default"
)

// Backend names of a VMInstance X.

// CloudInitSecretName is the Secret holding X's user data.
func CloudInitSecretName(vm string) string { return vm + "-cloud-init" }

// SSHKeysSecretName is the Secret holding X's SSH keys.
func SSHKeysSecretName(vm string) string { return vm + "-ssh-keys" }

// DiskDataVolumeName is the DataVolume of X's inline disk.
func DiskDataVolumeName(vm, disk string) string { return vm + "-" + disk }

// VMInstanceBackend is every backend object of one VMInstance. The VM is
// always there; the others may be nil.
type VMInstanceBackend struct {
	VM        *kubevirtv1.VirtualMachine
	Service   *corev1.Service
	CloudInit *corev1.Secret
	SSHKeys   *corev1.Secret
	// VMI is read for status only.
	VMI *kubevirtv1.VirtualMachineInstance
}

// resourceVersion is the newest resourceVersion of the objects: the
// VMInstance changes whenever any of them does.
func (b *VMInstanceBackend) resourceVersion() string {
	versions := []string{b.VM.ResourceVersion}
	if b.Service != nil {
		versions = append(versions, b.Service.ResourceVersion)
	}
	for _, s := range []*corev1.Secret{b.CloudInit, b.SSHKeys} {
		if s != nil {
			versions = append(versions, s.ResourceVersion)
		}
	}
	if b.VMI != nil {
		versions = append(versions, b.VMI.ResourceVersion)
	}
	return LatestResourceVersion(versions...)
}

// VMInstanceInputs are the cluster facts a VMInstance's backend objects
// depend on, looked up by the caller.
type VMInstanceInputs struct {
	// Profile is the catalogue entry of spec.instanceProfile.
	Profile catalogue.Profile
	// InstanceType is the spec of spec.instanceType; needed when resources
	// override it (its other settings are expanded into the VM).
	InstanceType *instancetypev1beta1.VirtualMachineInstancetypeSpec
	// Optical says which attached VMDisks are optical.
	Optical map[string]bool
}

// VMInstanceBackendFor returns the backend objects storing vmi. existing is
// the current VM on update (its other fields are kept) and nil on create.
// Service and Secrets are nil when vmi needs none.
func VMInstanceBackendFor(inst *apps.VMInstance, existing *kubevirtv1.VirtualMachine, in VMInstanceInputs) (*VMInstanceBackend, error) {
	vm := &kubevirtv1.VirtualMachine{}
	var existingMeta *metav1.ObjectMeta
	if existing != nil {
		vm = existing.DeepCopy()
		existingMeta = &existing.ObjectMeta
	}
	meta, err := BackendMeta(&inst.ObjectMeta, existingMeta, VMInstanceKind)
	if err != nil {
		return nil, err
	}
	vm.ObjectMeta = meta
	vm.TypeMeta = metav1.TypeMeta{}
	spec := &inst.Spec
	setKeyIf(&vm.Annotations, ProfileAnnotation, spec.InstanceProfile)
	setKeyIf(&vm.Annotations, PortsAnnotation, "")
	if !spec.External && len(spec.ExternalPorts) > 0 {
		ports, err := json.Marshal(spec.ExternalPorts)
		if err != nil {
			return nil, err
		}
		setKeyIf(&vm.Annotations, PortsAnnotation, string(ports))
	}

	runStrategy := kubevirtv1.RunStrategyAlways
	if spec.Running != nil && !*spec.Running {
		runStrategy = kubevirtv1.RunStrategyHalted
	}
	vm.Spec.Running = nil
	vm.Spec.RunStrategy = &runStrategy
	vm.Spec.Preference = &kubevirtv1.PreferenceMatcher{Kind: "VirtualMachineClusterPreference", Name: in.Profile.Preference}

	if vm.Spec.Template == nil {
		vm.Spec.Template = &kubevirtv1.VirtualMachineInstanceTemplateSpec{}
	}
	tmpl := vm.Spec.Template
	setKeyIf(&tmpl.ObjectMeta.Labels, InstanceLabel, inst.Name)
	if err := setSize(vm, spec, in.InstanceType); err != nil {
		return nil, err
	}
	setNetwork(&tmpl.Spec)
	vm.Spec.DataVolumeTemplates = setDisks(vm, inst, in)

	backend := &VMInstanceBackend{VM: vm}
	backend.Service, backend.CloudInit, backend.SSHKeys = OwnedObjectsFor(inst)
	if backend.CloudInit != nil {
		addVolume(&tmpl.Spec, kubevirtv1.Volume{Name: CloudInitVolume, VolumeSource: kubevirtv1.VolumeSource{
			CloudInitNoCloud: &kubevirtv1.CloudInitNoCloudSource{UserDataSecretRef: &corev1.LocalObjectReference{Name: backend.CloudInit.Name}},
		}}, kubevirtv1.Disk{Name: CloudInitVolume})
	}
	tmpl.Spec.AccessCredentials = nil
	if backend.SSHKeys != nil {
		tmpl.Spec.AccessCredentials = []kubevirtv1.AccessCredential{{SSHPublicKey: &kubevirtv1.SSHPublicKeyAccessCredential{
			Source:            kubevirtv1.SSHPublicKeyAccessCredentialSource{Secret: &kubevirtv1.AccessCredentialSecretSource{SecretName: backend.SSHKeys.Name}},
			PropagationMethod: kubevirtv1.SSHPublicKeyAccessCredentialPropagationMethod{NoCloud: &kubevirtv1.NoCloudSSHPublicKeyAccessCredentialPropagation{}},
		}}}
	}
	return backend, nil
}

// OwnedObjectsFor returns the Service and Secrets that store inst's
// externalPorts, cloudInit and sshKeys, nil for those it needs none of.
func OwnedObjectsFor(inst *apps.VMInstance) (svc *corev1.Service, cloudInit, sshKeys *corev1.Secret) {
	spec := &inst.Spec
	owned := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name:      name,
			Namespace: inst.Namespace,
			Labels:    map[string]string{InstanceLabel: inst.Name},
		}
	}
	if spec.CloudInit != "" || len(spec.SSHKeys) > 0 {
		cloudInit = &corev1.Secret{ObjectMeta: owned(CloudInitSecretName(inst.Name)), Type: corev1.SecretTypeOpaque}
		userData := spec.CloudInit
		if userData == "" {
			userData = minimalUserData
			cloudInit.Annotations = map[string]string{MinimalUserDataAnnotation: "true"}
		}
		cloudInit.Data = map[string][]byte{userDataKey: []byte(userData)}
	}
	if len(spec.SSHKeys) > 0 {
		sshKeys = &corev1.Secret{ObjectMeta: owned(SSHKeysSecretName(inst.Name)), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
		for i, key := range spec.SSHKeys {
			sshKeys.Data[sshKeyPrefix+strconv.Itoa(i)] = []byte(key)
		}
	}
	if spec.External {
		svc = &corev1.Service{ObjectMeta: owned(inst.Name)}
		svc.Spec = corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{InstanceLabel: inst.Name},
		}
		for _, p := range spec.ExternalPorts {
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
				Name:       strings.ToLower(p.Protocol) + "-" + strconv.Itoa(int(p.Port)),
				Protocol:   corev1.Protocol(p.Protocol),
				Port:       p.Port,
				TargetPort: intstr.FromInt32(p.TargetPort),
			})
		}
	}
	return svc, cloudInit, sshKeys
}

// setSize sizes the VM: an instance type matcher, or, when resources
// override it, explicit CPU and memory plus the type's other settings
// expanded into the domain (KubeVirt refuses a matcher together with
// explicit sizes).
func setSize(vm *kubevirtv1.VirtualMachine, spec *apps.VMInstanceSpec, it *instancetypev1beta1.VirtualMachineInstancetypeSpec) error {
	domain := &vm.Spec.Template.Spec.Domain
	delete(vm.Annotations, InstanceTypeAnnotation)
	delete(vm.Annotations, OverridesAnnotation)
	if spec.Resources == nil || (spec.Resources.CPU == nil && spec.Resources.Memory == nil) {
		vm.Spec.Instancetype = &kubevirtv1.InstancetypeMatcher{Kind: "VirtualMachineClusterInstancetype", Name: spec.InstanceType}
		domain.CPU = nil
		domain.Memory = nil
		domain.IOThreadsPolicy = nil
		return nil
	}
	vm.Spec.Instancetype = nil
	setKeyIf(&vm.Annotations, InstanceTypeAnnotation, spec.InstanceType)
	var overrides []string
	cpu := &kubevirtv1.CPU{Cores: 1, Threads: 1}
	memory := &kubevirtv1.Memory{}
	if it != nil {
		cpu.Sockets = it.CPU.Guest
		if it.CPU.Model != nil {
			cpu.Model = *it.CPU.Model
		}
		cpu.DedicatedCPUPlacement = it.CPU.DedicatedCPUPlacement != nil && *it.CPU.DedicatedCPUPlacement
		cpu.IsolateEmulatorThread = it.CPU.IsolateEmulatorThread != nil && *it.CPU.IsolateEmulatorThread
		cpu.NUMA = it.CPU.NUMA.DeepCopy()
		cpu.Realtime = it.CPU.Realtime.DeepCopy()
		guest := it.Memory.Guest.DeepCopy()
		memory.Guest = &guest
		memory.Hugepages = it.Memory.Hugepages.DeepCopy()
		domain.IOThreadsPolicy = it.IOThreadsPolicy
	} else if spec.InstanceType != "" {
		return fmt.Errorf("instance type %q is needed to expand its settings", spec.InstanceType)
	}
	if q := spec.Resources.CPU; q != nil {
		cpu.Sockets = uint32(q.Value())
		overrides = append(overrides, "cpu")
	}
	if q := spec.Resources.Memory; q != nil {
		guest := q.DeepCopy()
		memory.Guest = &guest
		overrides = append(overrides, "memory")
	}
	domain.CPU = cpu
	domain.Memory = memory
	setKeyIf(&vm.Annotations, OverridesAnnotation, strings.Join(overrides, ","))
	return nil
}

func setNetwork(spec *kubevirtv1.VirtualMachineInstanceSpec) {
	spec.Networks = []kubevirtv1.Network{{Name: podNetwork, NetworkSource: kubevirtv1.NetworkSource{Pod: &kubevirtv1.PodNetwork{}}}}
	spec.Domain.Devices.Interfaces = []kubevirtv1.Interface{{
		Name: podNetwork, InterfaceBindingMethod: kubevirtv1.InterfaceBindingMethod{Masquerade: &kubevirtv1.InterfaceMasquerade{}},
	}}
}

// setDisks writes the disks and volumes in boot order and returns the
// DataVolume templates of the inline disks: the first is cloned from the
// profile's image (blank without one), the others are blank.
func setDisks(vm *kubevirtv1.VirtualMachine, inst *apps.VMInstance, in VMInstanceInputs) []kubevirtv1.DataVolumeTemplateSpec {
	spec := &vm.Spec.Template.Spec
	spec.Domain.Devices.Disks = nil
	spec.Volumes = nil
	var templates []kubevirtv1.DataVolumeTemplateSpec
	for i, d := range inst.Spec.Disks {
		bootOrder := uint(i + 1)
		disk := kubevirtv1.Disk{Name: d.Name, BootOrder: &bootOrder}
		volume := kubevirtv1.Volume{Name: d.Name}
		switch {
		case d.Size != nil:
			dvName := DiskDataVolumeName(inst.Name, d.Name)
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: dvName}
			disk.Disk = &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBus(d.Bus)}
			templates = append(templates, inlineDiskTemplate(inst.Name, dvName, d, len(templates) == 0, in.Profile))
		case in.Optical[d.Name]:
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: d.Name}
			bus := kubevirtv1.DiskBus(d.Bus)
			if bus == "" {
				// KubeVirt refuses virtio CD-ROMs; sata works everywhere.
				bus = kubevirtv1.DiskBusSATA
			}
			disk.CDRom = &kubevirtv1.CDRomTarget{Bus: bus}
		default:
			volume.DataVolume = &kubevirtv1.DataVolumeSource{Name: d.Name}
			disk.Disk = &kubevirtv1.DiskTarget{Bus: kubevirtv1.DiskBus(d.Bus)}
		}
		addVolume(spec, volume, disk)
	}
	return templates
}

func inlineDiskTemplate(instance, name string, d apps.VMInstanceDisk, root bool, profile catalogue.Profile) kubevirtv1.DataVolumeTemplateSpec {
	class := d.StorageClass
	tmpl := kubevirtv1.DataVolumeTemplateSpec{
		// The label tells the DataVolume KubeVirt makes from the template
		// from any other of the same name (a VMDisk, another VMInstance's).
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{InstanceLabel: instance}},
		Spec: cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: d.Size.DeepCopy()}},
			StorageClassName: &class,
		}},
	}
	if root && profile.Image != "" {
		namespace := profile.ImagesNamespace
		tmpl.Spec.SourceRef = &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: &namespace, Name: profile.Image}
	} else {
		tmpl.Spec.Source = &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}
	}
	return tmpl
}

func addVolume(spec *kubevirtv1.VirtualMachineInstanceSpec, volume kubevirtv1.Volume, disk kubevirtv1.Disk) {
	spec.Volumes = append(spec.Volumes, volume)
	spec.Domain.Devices.Disks = append(spec.Domain.Devices.Disks, disk)
}

// VMInstanceFrom is the VMInstance its backend objects store. instancetype
// is the spec of the VM's instance type when known, for the effective size
// of a machine that is not running.
func VMInstanceFrom(b *VMInstanceBackend, instancetype *instancetypev1beta1.VirtualMachineInstancetypeSpec) (*apps.VMInstance, error) {
	vm := b.VM
	meta, err := PublicMeta(&vm.ObjectMeta)
	if err != nil {
		return nil, err
	}
	inst := &apps.VMInstance{ObjectMeta: meta}
	inst.ResourceVersion = b.resourceVersion()
	spec := &inst.Spec
	running := vm.Spec.RunStrategy == nil || *vm.Spec.RunStrategy != kubevirtv1.RunStrategyHalted
	if vm.Spec.RunStrategy == nil && vm.Spec.Running != nil {
		running = *vm.Spec.Running
	}
	spec.Running = &running
	spec.InstanceProfile = vm.Annotations[ProfileAnnotation]
	if spec.InstanceProfile == "" && vm.Spec.Preference != nil {
		spec.InstanceProfile = vm.Spec.Preference.Name
	}
	if vm.Spec.Instancetype != nil {
		spec.InstanceType = vm.Spec.Instancetype.Name
	} else {
		spec.InstanceType = vm.Annotations[InstanceTypeAnnotation]
	}
	var tmpl *kubevirtv1.VirtualMachineInstanceSpec
	if vm.Spec.Template != nil {
		tmpl = &vm.Spec.Template.Spec
	} else {
		tmpl = &kubevirtv1.VirtualMachineInstanceSpec{}
	}
	spec.Resources = resourcesFrom(vm.Annotations[OverridesAnnotation], &tmpl.Domain)
	if spec.Disks, err = disksFrom(vm, tmpl); err != nil {
		return nil, err
	}
	if b.Service != nil {
		spec.External = true
		for _, p := range b.Service.Spec.Ports {
			spec.ExternalPorts = append(spec.ExternalPorts, apps.ExternalPort{Port: p.Port, Protocol: string(p.Protocol), TargetPort: p.TargetPort.IntVal})
		}
	} else if raw, ok := vm.Annotations[PortsAnnotation]; ok {
		if err := json.Unmarshal([]byte(raw), &spec.ExternalPorts); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", PortsAnnotation, err)
		}
	}
	if b.CloudInit != nil && b.CloudInit.Annotations[MinimalUserDataAnnotation] != "true" {
		spec.CloudInit = string(b.CloudInit.Data[userDataKey])
	}
	spec.SSHKeys = sshKeysFrom(b.SSHKeys)
	inst.Status = vmInstanceStatus(b, instancetype, running)
	return inst, nil
}

func resourcesFrom(overrides string, domain *kubevirtv1.DomainSpec) *apps.VMResources {
	if overrides == "" {
		return nil
	}
	res := &apps.VMResources{}
	for _, field := range strings.Split(overrides, ",") {
		switch {
		case field == "cpu" && domain.CPU != nil:
			res.CPU = resource.NewQuantity(int64(vcpus(domain.CPU)), resource.DecimalSI)
		case field == "memory" && domain.Memory != nil && domain.Memory.Guest != nil:
			q := domain.Memory.Guest.DeepCopy()
			res.Memory = &q
		}
	}
	return res
}

func vcpus(cpu *kubevirtv1.CPU) uint32 {
	n := uint32(1)
	for _, f := range []uint32{cpu.Sockets, cpu.Cores, cpu.Threads} {
		if f > 0 {
			n *= f
		}
	}
	return n
}

// disksFrom reads the disks back in boot (list) order: a volume whose
// DataVolume is one of the VM's templates is an inline disk, any other
// DataVolume an attached VMDisk.
func disksFrom(vm *kubevirtv1.VirtualMachine, tmpl *kubevirtv1.VirtualMachineInstanceSpec) ([]apps.VMInstanceDisk, error) {
	templates := map[string]*kubevirtv1.DataVolumeTemplateSpec{}
	for i := range vm.Spec.DataVolumeTemplates {
		templates[vm.Spec.DataVolumeTemplates[i].Name] = &vm.Spec.DataVolumeTemplates[i]
	}
	volumes := map[string]*kubevirtv1.Volume{}
	for i := range tmpl.Volumes {
		volumes[tmpl.Volumes[i].Name] = &tmpl.Volumes[i]
	}
	var disks []apps.VMInstanceDisk
	for _, d := range tmpl.Domain.Devices.Disks {
		if d.Name == CloudInitVolume {
			continue
		}
		volume := volumes[d.Name]
		if volume == nil || volume.DataVolume == nil {
			return nil, fmt.Errorf("disk %q is not backed by a DataVolume", d.Name)
		}
		disk := apps.VMInstanceDisk{Name: d.Name}
		switch {
		case d.Disk != nil:
			disk.Bus = string(d.Disk.Bus)
		case d.CDRom != nil && d.CDRom.Bus != kubevirtv1.DiskBusSATA:
			disk.Bus = string(d.CDRom.Bus)
		}
		if t, ok := templates[volume.DataVolume.Name]; ok {
			if t.Spec.Storage != nil {
				if size, ok := t.Spec.Storage.Resources.Requests[corev1.ResourceStorage]; ok {
					disk.Size = &size
				}
				if t.Spec.Storage.StorageClassName != nil {
					disk.StorageClass = *t.Spec.Storage.StorageClassName
				}
			}
		}
		disks = append(disks, disk)
	}
	return disks, nil
}

func sshKeysFrom(secret *corev1.Secret) []string {
	if secret == nil {
		return nil
	}
	type indexed struct {
		i   int
		key string
	}
	var keys []indexed
	for name, value := range secret.Data {
		if i, err := strconv.Atoi(strings.TrimPrefix(name, sshKeyPrefix)); err == nil && strings.HasPrefix(name, sshKeyPrefix) {
			keys = append(keys, indexed{i, string(value)})
		}
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].i < keys[b].i })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.key)
	}
	return out
}

func vmInstanceStatus(b *VMInstanceBackend, instancetype *instancetypev1beta1.VirtualMachineInstancetypeSpec, running bool) apps.VMInstanceStatus {
	vm := b.VM
	status := apps.VMInstanceStatus{
		Phase:              string(vm.Status.PrintableStatus),
		Ready:              vm.Status.Ready,
		ObservedGeneration: observedGeneration(vm.Status.ObservedGeneration, vm.Generation),
	}
	var conditions []metav1.Condition
	for _, c := range vm.Status.Conditions {
		// virt-controller leaves the transition time of some conditions
		// empty; a metav1.Condition requires one, and kubectl refuses to
		// apply back a VMInstance without it.
		since := c.LastTransitionTime
		if since.IsZero() {
			since = c.LastProbeTime
		}
		if since.IsZero() {
			since = vm.CreationTimestamp
		}
		conditions = append(conditions, metav1.Condition{
			Type:               string(c.Type),
			Status:             metav1.ConditionStatus(c.Status),
			LastTransitionTime: since,
			Reason:             c.Reason,
			Message:            c.Message,
		})
	}
	status.Conditions = withReadiness(conditions, vmInstanceReadiness(vm, b.VMI, running))
	if b.Service != nil {
		if ingress := b.Service.Status.LoadBalancer.Ingress; len(ingress) > 0 {
			status.ExternalIP = ingress[0].IP
			if status.ExternalIP == "" {
				status.ExternalIP = ingress[0].Hostname
			}
		}
	}
	var domain *kubevirtv1.DomainSpec
	if vm.Spec.Template != nil {
		domain = &vm.Spec.Template.Spec.Domain
	}
	if vmi := b.VMI; vmi != nil {
		status.NodeName = vmi.Status.NodeName
		for _, iface := range vmi.Status.Interfaces {
			ips := iface.IPs
			if len(ips) == 0 && iface.IP != "" {
				ips = []string{iface.IP}
			}
			status.IPAddresses = append(status.IPAddresses, ips...)
		}
		// The running machine's domain is what it really got.
		domain = &vmi.Spec.Domain
	}
	if domain != nil && domain.CPU != nil {
		status.CPU = resource.NewQuantity(int64(vcpus(domain.CPU)), resource.DecimalSI)
	} else if instancetype != nil {
		status.CPU = resource.NewQuantity(int64(instancetype.CPU.Guest), resource.DecimalSI)
	}
	if domain != nil && domain.Memory != nil && domain.Memory.Guest != nil {
		q := domain.Memory.Guest.DeepCopy()
		status.Memory = &q
	} else if instancetype != nil {
		q := instancetype.Memory.Guest.DeepCopy()
		status.Memory = &q
	}
	return status
}

// setKeyIf sets key in *m to value, or removes it when value is empty.
func setKeyIf(m *map[string]string, key, value string) {
	if value == "" {
		delete(*m, key)
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[key] = value
}

// AttachedVMDisks are the VMDisks (DataVolumes not made from the VM's own
// templates) that vm attaches.
func AttachedVMDisks(vm *kubevirtv1.VirtualMachine) []string {
	if vm.Spec.Template == nil {
		return nil
	}
	templates := map[string]bool{}
	for _, t := range vm.Spec.DataVolumeTemplates {
		templates[t.Name] = true
	}
	var names []string
	for _, v := range vm.Spec.Template.Spec.Volumes {
		if v.DataVolume != nil && !templates[v.DataVolume.Name] {
			names = append(names, v.DataVolume.Name)
		}
	}
	return names
}

// DataVolumeClaimants are the VMInstance names whose inline disks could have
// the DataVolume name dv (X's disk D has X-D): "a-b-c" may be "a" with disk
// "b-c" or "a-b" with disk "c".
func DataVolumeClaimants(dv string) []string {
	var names []string
	for i := 1; i < len(dv)-1; i++ {
		if dv[i] == '-' {
			names = append(names, dv[:i])
		}
	}
	return names
}
