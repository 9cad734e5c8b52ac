package environment

// PID is the operating system's id of the environment's running process
// called name ("vm-apiserver", "kube-apiserver", "etcd"), 0 if there is
// none: the benchmarks read the servers' memory from /proc.
func (e *Environment) PID(name string) int {
	for _, p := range e.processes {
		if p.name == name && !p.exited() {
			return p.cmd.Process.Pid
		}
	}
	return 0
}
