//go:build linux

package worker

import "syscall"

// sysProcAttr puts the worker in its own process group (so stopping it reaches anything it
// started) and has the kernel kill it if the supervising thread dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }
