package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

// TestExampleConfig keeps deploy/sde.example.json loadable: it documents every field.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../../deploy/sde.example.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pseudonyms.Backend != "vault" || c.Pseudonyms.Vault.KeyVersion != 1 || c.DataDir != "/var/lib/sde" {
		t.Errorf("config = %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"addr": "x", "colour": "red"}`), 0o600)
	if _, err := LoadConfig(bad); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "unknown field") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); sde.ErrorCode(err) != sde.EINVALID || strings.Contains(sde.ErrorMessage(err), dir) {
		t.Errorf("missing file: %v", err)
	}
	c := DefaultConfig()
	c.Pseudonyms.Backend = "hsm"
	if _, err := c.Pseudonymiser(t.Context()); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("unknown backend: %v", err)
	}
}
