package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/auth"
)

// Config is the service's one configuration: read from a JSON file (--config), then flags
// override it. deploy/sde.example.json documents every field.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string `json:"addr"`
	// FlightAddr is the Arrow Flight SQL listen address; empty disables Flight SQL. serve --dev
	// defaults it to DevFlightAddr.
	FlightAddr string `json:"flight_addr,omitempty"`
	// FlightTLSCertFile and FlightTLSKeyFile (PEM), if set, serve Flight SQL over TLS; without
	// them it is plaintext, for localhost only.
	FlightTLSCertFile string `json:"flight_tls_cert_file,omitempty"`
	FlightTLSKeyFile  string `json:"flight_tls_key_file,omitempty"`
	// DataDir holds datasets, workspace databases, the control-plane store and the audit log.
	DataDir string `json:"data_dir"`
	// Auth says which OpenID Provider to trust; serve --dev runs its own and uses only the
	// claim names and cookie settings from here.
	Auth auth.Config `json:"auth"`
	// Pseudonyms chooses where the linkage key lives.
	Pseudonyms PseudonymConfig `json:"pseudonyms"`
	// Ingest bounds each ingest's resources.
	Ingest IngestConfig `json:"ingest"`
	// Workers bounds each workspace's worker process.
	Workers WorkerConfig `json:"workers"`
	// MembershipReviewDays is how often a controller must re-confirm each workspace membership
	// before it lapses (default 90).
	MembershipReviewDays int `json:"membership_review_days,omitempty"`
	// Dev configures the embedded demo started by serve --dev.
	Dev DevConfig `json:"dev"`
}

// ReviewPeriod is MembershipReviewDays as a duration.
func (c Config) ReviewPeriod() time.Duration {
	return time.Duration(c.MembershipReviewDays) * 24 * time.Hour
}

// PseudonymConfig selects the pseudonymiser.
type PseudonymConfig struct {
	// Backend is "local" (a keyring file under KeyringDir; the embedded default) or "vault".
	Backend string `json:"backend"`
	// KeyringDir defaults to DATA/keys. Keep it off the data volume in production.
	KeyringDir string      `json:"keyring_dir,omitempty"`
	Vault      VaultConfig `json:"vault,omitempty"`
}

// VaultConfig reaches Vault's transit engine. The token comes from TokenFile or VAULT_TOKEN,
// never from this file.
type VaultConfig struct {
	Address    string `json:"address,omitempty"` // default VAULT_ADDR
	TokenFile  string `json:"token_file,omitempty"`
	Mount      string `json:"mount,omitempty"`       // default "transit"
	Key        string `json:"key,omitempty"`         // default "sde-linkage"
	KeyVersion int    `json:"key_version,omitempty"` // 0: pin the latest version at start-up
}

// IngestConfig bounds ingests.
type IngestConfig struct {
	MemoryLimit string `json:"memory_limit,omitempty"` // default "8GB"
	Threads     int    `json:"threads,omitempty"`      // default all cores
}

// WorkerConfig bounds each workspace's worker process and its queries.
type WorkerConfig struct {
	Memory         string `json:"memory,omitempty"`          // DuckDB memory limit, default "2GB"
	Threads        int    `json:"threads,omitempty"`         // default 2
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"` // per query, default 60
	// PerUser bounds the queries one person runs at once, in all workspaces (default 4).
	PerUser int `json:"queries_per_user,omitempty"`
}

// Timeout is the per-query time limit (0: the worker's default).
func (w WorkerConfig) Timeout() time.Duration { return time.Duration(w.TimeoutSeconds) * time.Second }

// DevConfig shapes the synthetic data serve --dev ingests on first start.
type DevConfig struct {
	Seed   uint64 `json:"seed"`
	People int    `json:"people"`
}

// DevFlightAddr is serve --dev's Flight SQL address.
const DevFlightAddr = "127.0.0.1:8815"

// DefaultDevSeed is the documented seed of the embedded demo's synthetic data.
const DefaultDevSeed = 20261123

// DefaultConfig is the embedded default.
func DefaultConfig() Config {
	return Config{
		Addr:                 "127.0.0.1:8080",
		DataDir:              "sde-data",
		Pseudonyms:           PseudonymConfig{Backend: "local"},
		Ingest:               IngestConfig{MemoryLimit: "8GB"},
		MembershipReviewDays: 90,
		Dev:                  DevConfig{Seed: DefaultDevSeed, People: 10000},
	}
}

// LoadConfig reads a JSON config file over the defaults; unknown fields are an error.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, sde.Wrap(err, sde.EINVALID, "Cannot read the config file %q.", filepath.Base(path))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, sde.Wrap(err, sde.EINVALID, "The config file %q is not valid: %s.", filepath.Base(path), strings.TrimPrefix(err.Error(), "json: "))
	}
	return c, nil
}

// Rekeyer builds the per-workspace pseudonym deriver for the configured backend.
func (c Config) Rekeyer(ctx context.Context) (crypto.Rekeyer, error) {
	if c.Pseudonyms.Backend == "vault" {
		cfg, err := c.vault()
		if err != nil {
			return nil, err
		}
		cfg.Key, cfg.KeyVersion = "", 0 // the workspace key: its own name (default) and latest version
		return crypto.NewVaultRekeyerContext(ctx, cfg)
	}
	ps, err := c.Pseudonymiser(ctx)
	if err != nil {
		return nil, err
	}
	return ps.(*crypto.Keyring).Rekeyer(), nil
}

// Pseudonymiser builds the configured pseudonymiser.
func (c Config) Pseudonymiser(ctx context.Context) (crypto.Pseudonymiser, error) {
	switch c.Pseudonyms.Backend {
	case "", "local":
		dir := c.Pseudonyms.KeyringDir
		if dir == "" {
			dir = filepath.Join(c.DataDir, "keys")
		}
		return crypto.OpenKeyring(dir)
	case "vault":
		cfg, err := c.vault()
		if err != nil {
			return nil, err
		}
		return crypto.NewVaultTransitContext(ctx, cfg)
	}
	return nil, sde.Errorf(sde.EINVALID, "Unknown pseudonym backend %q; use local or vault.", c.Pseudonyms.Backend)
}

// vault is the Vault client configuration for the linkage key; the token comes from TokenFile
// or VAULT_TOKEN, never from the config file itself.
func (c Config) vault() (crypto.VaultConfig, error) {
	v := c.Pseudonyms.Vault
	cfg := crypto.VaultConfig{Address: v.Address, Mount: v.Mount, Key: v.Key, KeyVersion: v.KeyVersion}
	if v.TokenFile != "" {
		b, err := os.ReadFile(v.TokenFile)
		if err != nil {
			return cfg, sde.Wrap(err, sde.EINVALID, "Cannot read the Vault token file.")
		}
		cfg.Token = strings.TrimSpace(string(b))
	}
	return cfg, nil
}
