package vaulttest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip/Fatal instead of ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

type stop struct{}

func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); panic(stop{}) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); panic(stop{}) }
func (r *recorder) Helper()           {}

func run(tb testing.TB) (r *recorder) {
	r = &recorder{TB: tb}
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stop); !ok {
				panic(v)
			}
		}
	}()
	Start(r)
	return r
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("SDE_VAULT_BIN", filepath.Join(t.TempDir(), "no-vault"))
	t.Setenv("CI", "")
	if r := run(t); r.skipped == "" || r.failed != "" || !strings.Contains(r.skipped, "scripts/vault.sh") {
		t.Errorf("outside CI: skipped %q failed %q, want a skip naming scripts/vault.sh", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	if r := run(t); r.failed == "" || r.skipped != "" {
		t.Errorf("CI=true: skipped %q failed %q, want a failure", r.skipped, r.failed)
	}
}

func TestBinaryPath(t *testing.T) {
	t.Setenv("SDE_VAULT_BIN", "")
	t.Setenv("SDE_CACHE", "/cache")
	if got, want := Binary(), "/cache/vault-v1.21.0/vault"; got != want {
		t.Errorf("Binary() = %q, want %q (tools/vault/go.mod and scripts/vault.sh must agree)", got, want)
	}
}
