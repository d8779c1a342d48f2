//go:build linux

package worker

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// restrict confines the whole process, every thread: it may not open any file (DuckDB holds the
// database open already and reads it through that descriptor), may not open TCP connections or
// listen, and cannot regain privileges. DuckDB's threads already exist; below Landlock ABI 8
// go-landlock reaches them through libpsx, which signals every thread in /proc/self/task.
func restrict() (Sandbox, error) {
	var sb Sandbox
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return sb, err
	}
	// A worker's memory holds workspace data: no core files, no ptrace by other processes of
	// the same user.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)

	abi, err := llsys.LandlockGetABIVersion()
	if err != nil {
		abi = 0
	}
	sb.LandlockABI = abi
	// BestEffort: use what the kernel has, up to V11. No path rules: every filesystem access
	// right Landlock knows is denied everywhere. No port rules: every TCP (and, from ABI 10, UDP)
	// bind and connect is denied. Restrict also scopes abstract Unix sockets and signals (ABI 6).
	if err := landlock.V11.BestEffort().Restrict(); err != nil {
		return sb, err
	}

	nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	sb.NoNewPrivs = nnp == 1
	dump, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	sb.Dumpable = dump != 0
	sb.Filesystem, sb.Network, sb.Scoped = "not restricted (no Landlock)", "not restricted (no Landlock)", "not restricted"
	if abi >= 1 {
		sb.Filesystem = "no file may be opened, created or executed (the database was opened before)"
	}
	switch {
	case abi >= 10:
		sb.Network = "TCP and UDP bind/connect denied"
	case abi >= 4:
		sb.Network = "TCP bind/connect denied; UDP not restricted (Landlock ABI < 10)"
	}
	if abi >= 6 {
		sb.Scoped = "abstract Unix sockets and signals limited to the worker"
	}
	sb.Probes = probe()
	return sb, nil
}

// probe tries to escape and records what happened, so the status reports measured facts.
func probe() map[string]string {
	p := map[string]string{}
	outcome := func(err error) string {
		switch {
		case err == nil:
			return "allowed"
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return "denied"
		default:
			return "allowed (failed otherwise: " + err.Error() + ")"
		}
	}
	f, err := os.Open("/etc/passwd")
	if err == nil {
		f.Close()
	}
	p["read /etc/passwd"] = outcome(err)
	err = os.WriteFile(os.TempDir()+"/sde-worker-probe", nil, 0o600)
	if err == nil {
		os.Remove(os.TempDir() + "/sde-worker-probe")
	}
	p["write "+os.TempDir()] = outcome(err)
	// Port 9 (discard) on loopback: refused when allowed, EACCES when Landlock denies it.
	c, err := net.DialTimeout("tcp", "127.0.0.1:9", time.Second)
	if err == nil {
		c.Close()
	}
	p["tcp connect 127.0.0.1"] = outcome(err)
	return p
}
