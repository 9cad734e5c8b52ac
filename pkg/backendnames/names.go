package backendnames

// Backend names of a VMInstance X.

// ServiceName is the LoadBalancer Service exposing X.
func ServiceName(vm string) string { return vm }

// CloudInitSecretName is the Secret holding X's user data.
func CloudInitSecretName(vm string) string { return vm + "-cloud-init" }

// SSHKeysSecretName is the Secret holding X's SSH keys.
func SSHKeysSecretName(vm string) string { return vm + "-ssh-keys" }

// DiskDataVolumeName is the DataVolume of X's inline disk.
func DiskDataVolumeName(vm, disk string) string { return vm + "-" + disk }

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

// Backend names of a VMDisk X, whose DataVolume is X itself.

// HeadersSecretName is the Secret holding X's credential headers.
func HeadersSecretName(disk string) string { return disk + "-http-headers" }

// CredentialsSecretName is the Secret holding the userinfo of X's URL.
func CredentialsSecretName(disk string) string { return disk + "-http-credentials" }
