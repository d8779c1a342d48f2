// Package vaulttest starts a real HashiCorp Vault dev server for tests, with the transit engine
// and the SDE's keys set up, so Vault behaviour (sealing, outages, rotation) is tested for real.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/opensde/sde/internal/testkit"
)

// DefaultVersion is the Vault version used when tools/vault/go.mod cannot be found; keep it in
// step with that file (scripts/vault.sh reads the version from there).
const DefaultVersion = "v1.21.0"

// Names set up by Start.
const (
	Mount        = "transit"
	LinkageKey   = "sde-linkage"
	WorkspaceKey = "sde-workspace"
)

// Server is a running Vault dev server (in-memory storage, loopback only).
type Server struct {
	Addr  string // e.g. "http://127.0.0.1:41234"
	Token string // root token

	t         testing.TB
	cmd       *exec.Cmd
	exited    chan struct{}
	log       *testkit.SyncBuffer
	unsealKey string
	client    *vault.Client
	stopOnce  sync.Once
}

// Binary returns the path of the Vault binary: $SDE_VAULT_BIN, else the path scripts/vault.sh
// builds to. It does not check that the file exists.
func Binary() string {
	if b := os.Getenv("SDE_VAULT_BIN"); b != "" {
		return b
	}
	cache := os.Getenv("SDE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "sde")
	}
	return filepath.Join(cache, "vault-"+version(), "vault")
}

// version reads the Vault version from tools/vault/go.mod above the working directory.
func version() string {
	dir, err := os.Getwd()
	for err == nil {
		b, rerr := os.ReadFile(filepath.Join(dir, "tools", "vault", "go.mod"))
		if rerr == nil {
			if m := regexp.MustCompile(`(?m)^\s*github\.com/hashicorp/vault (v\S+)`).FindSubmatch(b); m != nil {
				return string(m[1])
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return DefaultVersion
}

// Start starts a Vault dev server, enables transit at "transit", creates the keys
// "sde-linkage" and "sde-workspace", and stops the server when the test ends. Without a Vault
// binary the test is skipped, or fails when CI=true: CI must never skip for a missing tool.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		msg := fmt.Sprintf("Vault binary not found at %s: build it with `make vault` or scripts/vault.sh (or set SDE_VAULT_BIN)", bin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before Vault binds it
		s, err := start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("vaulttest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string) (*Server, error) {
	port, err := freePortPair()
	if err != nil {
		return nil, err
	}
	home := t.TempDir()
	s := &Server{
		Addr:   "http://127.0.0.1:" + strconv.Itoa(port),
		Token:  randomToken(),
		t:      t,
		exited: make(chan struct{}),
		log:    &testkit.SyncBuffer{},
	}
	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+s.Token,
		"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port),
		"-dev-no-store-token",
		"-log-level=warn",
	)
	cmd.Dir = home
	// A clean environment: nothing from the developer's Vault setup, and HOME/TMPDIR in the
	// test's temp dir so Vault writes nowhere else.
	cmd.Env = []string{"HOME=" + home, "TMPDIR=" + home, "PATH=" + os.Getenv("PATH"),
		"VAULT_DISABLE_MLOCK=true", "SKIP_SETCAP=1", "VAULT_LOG_FORMAT=standard"}
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting vault: %w", err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.Stop)

	conf := vault.DefaultConfig()
	conf.Address = s.Addr
	conf.MaxRetries = 0
	if s.client, err = vault.NewClient(conf); err != nil {
		s.Stop()
		return nil, err
	}
	s.client.SetToken(s.Token)

	if err := s.waitHealthy(30 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\nvault output:\n%s", err, s.log.String())
	}
	ctx := context.Background()
	if err := s.client.Sys().MountWithContext(ctx, Mount, &vault.MountInput{Type: "transit"}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("enabling transit: %w", err)
	}
	for _, k := range []string{LinkageKey, WorkspaceKey} {
		if err := s.createKey(k); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) waitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("vault exited during start-up")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		h, err := s.client.Sys().HealthWithContext(ctx)
		cancel()
		if err == nil && h.Initialized && !h.Sealed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vault not healthy after %v: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a root-token client for the server, for test set-up.
func (s *Server) Client() *vault.Client { return s.client }

func (s *Server) createKey(name string) error {
	_, err := s.client.Logical().Write(Mount+"/keys/"+name, map[string]any{"type": "aes256-gcm96"})
	if err != nil {
		return fmt.Errorf("creating transit key %s: %w", name, err)
	}
	return nil
}

// CreateKey creates another transit key.
func (s *Server) CreateKey(name string) {
	s.t.Helper()
	if err := s.createKey(name); err != nil {
		s.t.Fatal(err)
	}
}

// RotateKey adds a version to a transit key and returns the new latest version.
func (s *Server) RotateKey(name string) int {
	s.t.Helper()
	if _, err := s.client.Logical().Write(Mount+"/keys/"+name+"/rotate", nil); err != nil {
		s.t.Fatalf("rotating %s: %v", name, err)
	}
	sec, err := s.client.Logical().Read(Mount + "/keys/" + name)
	if err != nil || sec == nil {
		s.t.Fatalf("reading %s: %v", name, err)
	}
	v, err := strconv.Atoi(fmt.Sprint(sec.Data["latest_version"]))
	if err != nil {
		s.t.Fatalf("latest_version of %s: %v", name, err)
	}
	return v
}

// Policy writes an ACL policy and returns a token limited to it, for permission tests.
func (s *Server) Policy(name, hcl string) string {
	s.t.Helper()
	if err := s.client.Sys().PutPolicy(name, hcl); err != nil {
		s.t.Fatalf("writing policy: %v", err)
	}
	sec, err := s.client.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{name}, NoDefaultPolicy: true})
	if err != nil {
		s.t.Fatalf("creating token: %v", err)
	}
	return sec.Auth.ClientToken
}

// Seal seals Vault, as an operator would in an incident: every request then fails with 503.
func (s *Server) Seal() {
	s.t.Helper()
	if err := s.client.Sys().Seal(); err != nil {
		s.t.Fatalf("sealing vault: %v", err)
	}
}

// Unseal unseals Vault again with the dev server's unseal key.
func (s *Server) Unseal() {
	s.t.Helper()
	// The dev server prints the key after it starts answering, so look for it only now.
	for deadline := time.Now().Add(5 * time.Second); s.unsealKey == ""; time.Sleep(20 * time.Millisecond) {
		if m := unsealKeyRE.FindStringSubmatch(s.log.String()); m != nil {
			s.unsealKey = m[1]
		} else if time.Now().After(deadline) {
			s.t.Fatal("vaulttest: unseal key not found in the dev server's output")
		}
	}
	st, err := s.client.Sys().Unseal(s.unsealKey)
	if err != nil || st.Sealed {
		s.t.Fatalf("unsealing vault: %v", err)
	}
}

var unsealKeyRE = regexp.MustCompile(`Unseal Key: (\S+)`)

// Stop stops the server (idempotent), so tests can simulate Vault becoming unreachable.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		pgid := s.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.exited
		}
	})
}

// Log returns what the server printed so far, for debugging failed tests.
func (s *Server) Log() string { return s.log.String() }

// freePortPair returns a port p such that p and p+1 (Vault's cluster listener) are both free.
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port pair on 127.0.0.1")
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "root-" + hex.EncodeToString(b)
}
