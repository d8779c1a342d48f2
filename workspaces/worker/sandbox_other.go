//go:build !linux

package worker

// restrict has nothing to apply outside Linux; the worker relies on DuckDB's own settings there.
func restrict() (Sandbox, error) {
	return Sandbox{
		Filesystem: "not restricted (not Linux)",
		Network:    "not restricted (not Linux)",
		Scoped:     "not restricted (not Linux)",
		Dumpable:   true,
	}, nil
}
