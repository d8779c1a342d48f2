package worker

// Sandbox reports what the worker process enforces on itself, as measured after applying it.
// It is the worker's ready line and what Pool.Workers returns, so operators can see what this
// kernel actually gives rather than what the code asks for.
type Sandbox struct {
	// LandlockABI is the Landlock ABI version the kernel offers; 0 means no Landlock.
	LandlockABI int    `json:"landlock_abi"`
	Filesystem  string `json:"filesystem"` // what the process may still touch
	Network     string `json:"network"`
	Scoped      string `json:"scoped"` // abstract Unix sockets and signals
	NoNewPrivs  bool   `json:"no_new_privs"`
	Dumpable    bool   `json:"dumpable"` // false: no ptrace by peers, no core files
	// Probes are attempted escapes and their outcome ("denied" or "allowed: ...").
	Probes map[string]string `json:"probes"`
}
