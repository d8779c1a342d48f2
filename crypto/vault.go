package crypto

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/opensde/sde/sde"
)

// Defaults for VaultConfig.
const (
	DefaultTransitMount     = "transit"
	DefaultLinkageKey       = "sde-linkage"
	DefaultWorkspaceKey     = "sde-workspace"
	DefaultVaultBatchSize   = 10000
	DefaultVaultConcurrency = 4
	DefaultVaultTimeout     = 60 * time.Second
)

// VaultConfig says how to reach a Vault transit secrets engine. The HMAC key never leaves
// Vault: the SDE sends identifiers and gets HMACs back. The token needs "update" on
// <Mount>/hmac/<Key>/sha2-256 and, unless KeyVersion is set, "read" on <Mount>/keys/<Key>.
type VaultConfig struct {
	// Address of Vault, e.g. "https://vault.internal:8200". Empty means VAULT_ADDR. TLS
	// settings come from the usual VAULT_CACERT/VAULT_CLIENT_CERT/... environment variables.
	Address string
	// Token to authenticate with. Empty means VAULT_TOKEN.
	Token string
	// Client, if set, is used (cloned) instead of building one from Address and Token, so other
	// auth methods (AppRole, Kubernetes) can be set up by the caller.
	Client *vault.Client
	// Mount is the transit engine's mount path; default "transit".
	Mount string
	// Key is the transit key's name; default "sde-linkage" (NewVaultTransit) or
	// "sde-workspace" (NewVaultRekeyer).
	Key string
	// KeyVersion pins the key version. 0 means: read the key's latest_version once at
	// construction and pin that. Record Key() with each dataset and pass the version back here
	// when re-deriving, so a rotation in Vault never silently changes pseudonyms.
	KeyVersion int
	// BatchSize is the number of identifiers per request (default 10000, which is also Vault's
	// default max_json_array_element_count per listener: raise that before raising this).
	BatchSize int
	// Concurrency is the number of requests in flight (default 4).
	Concurrency int
	// Timeout bounds each request (default 60s); the caller's context bounds the whole call.
	Timeout time.Duration
	// MaxRetries is how often a request is retried on 5xx or connection errors, with backoff:
	// 0 means the client default (2), a negative value means never.
	MaxRetries int
}

// transit is the HMAC client shared by the Vault pseudonymiser and rekeyer.
type transit struct {
	client  *vault.Client
	mount   string
	key     string
	version int
	batch   int
	conc    int
	hmacURL string // path of the HMAC endpoint, relative to /v1/
	timeout time.Duration
}

func newTransit(ctx context.Context, cfg VaultConfig, defaultKey string) (*transit, error) {
	if cfg.Mount == "" {
		cfg.Mount = DefaultTransitMount
	}
	if cfg.Key == "" {
		cfg.Key = defaultKey
	}
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	if !validPathSegment(cfg.Key) || cfg.Mount == "" || strings.Contains(cfg.Mount, "..") {
		return nil, sde.Errorf(sde.EINVALID, "The Vault transit mount or key name is not valid.")
	}
	if cfg.KeyVersion < 0 || cfg.BatchSize < 0 || cfg.Concurrency < 0 || cfg.Timeout < 0 {
		return nil, sde.Errorf(sde.EINVALID, "The Vault key version, batch size, concurrency and timeout must not be negative.")
	}
	t := &transit{
		mount:   cfg.Mount,
		key:     cfg.Key,
		version: cfg.KeyVersion,
		batch:   cmp(cfg.BatchSize, DefaultVaultBatchSize),
		conc:    cmp(cfg.Concurrency, DefaultVaultConcurrency),
	}
	t.hmacURL = cfg.Mount + "/hmac/" + cfg.Key + "/sha2-256"

	var err error
	if cfg.Client != nil {
		t.client, err = cfg.Client.CloneWithHeaders()
		if err == nil {
			t.client.SetToken(cfg.Client.Token())
		}
	} else {
		conf := vault.DefaultConfig()
		if conf.Error != nil {
			return nil, sde.Wrap(conf.Error, sde.EINVALID, "The Vault client configuration is not valid.")
		}
		if cfg.Address != "" {
			conf.Address = cfg.Address
		}
		t.client, err = vault.NewClient(conf)
		if err == nil && cfg.Token != "" {
			t.client.SetToken(cfg.Token)
		}
	}
	if err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "The Vault client configuration is not valid.")
	}
	if t.client.Token() == "" {
		return nil, sde.Errorf(sde.EINVALID, "No Vault token is configured.")
	}
	// The client's own timeout cancels its context as soon as WriteRaw returns, before the
	// body is read, which breaks large batch responses; so requests are bounded here instead.
	t.timeout = cmp(cfg.Timeout, DefaultVaultTimeout)
	t.client.SetClientTimeout(0)
	switch {
	case cfg.MaxRetries < 0:
		t.client.SetMaxRetries(0)
	case cfg.MaxRetries > 0:
		t.client.SetMaxRetries(cfg.MaxRetries)
	}

	if t.version == 0 {
		if t.version, err = t.latestVersion(ctx); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func cmp[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func validPathSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/?#% \t\n")
}

// latestVersion reads the key's latest_version.
func (t *transit) latestVersion(ctx context.Context) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	s, err := t.client.Logical().ReadWithContext(rctx, t.mount+"/keys/"+t.key)
	if err != nil {
		return 0, vaultError(ctx, err)
	}
	if s == nil || s.Data == nil {
		return 0, sde.Wrap(errors.New("transit key not found"), sde.EUNAVAILABLE, msgKeyMissing)
	}
	v, err := strconv.Atoi(fmt.Sprint(s.Data["latest_version"]))
	if err != nil || v < 1 {
		return 0, sde.Wrap(fmt.Errorf("transit key has latest_version %v", s.Data["latest_version"]), sde.EUNAVAILABLE, msgVaultBad)
	}
	return v, nil
}

// User-safe messages: never the address, token, mount or key path.
const (
	msgUnreachable = "The key service (Vault) cannot be reached; try again later."
	msgSealed      = "The key service (Vault) is sealed or not ready; an operator must unseal it."
	msgDenied      = "The SDE is not permitted to use its pseudonymisation key in the key service (Vault)."
	msgKeyMissing  = "The pseudonymisation key does not exist in the key service (Vault)."
	msgVaultBad    = "The key service (Vault) gave an unexpected answer."
	msgCancelled   = "Pseudonymisation was cancelled or timed out."
)

// vaultError maps a Vault client error to a user-safe *sde.Error; the cause (which may hold the
// address and path, never the token) goes to Err for the logs.
func vaultError(ctx context.Context, err error) *sde.Error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return sde.Wrap(err, sde.EUNAVAILABLE, msgCancelled)
	}
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return sde.Wrap(err, sde.EUNAVAILABLE, msgUnreachable)
	}
	text := strings.ToLower(strings.Join(re.Errors, "; "))
	switch {
	case re.StatusCode == http.StatusServiceUnavailable || strings.Contains(text, "sealed"):
		return sde.Wrap(err, sde.EUNAVAILABLE, msgSealed)
	case re.StatusCode == http.StatusForbidden || strings.Contains(text, "permission denied"):
		return sde.Wrap(err, sde.EUNAVAILABLE, msgDenied)
	case re.StatusCode == http.StatusNotFound || strings.Contains(text, "not found"):
		return sde.Wrap(err, sde.EUNAVAILABLE, msgKeyMissing)
	}
	return sde.Wrap(err, sde.EUNAVAILABLE, msgVaultBad)
}

type hmacRequest struct {
	KeyVersion int         `json:"key_version"`
	BatchInput []hmacInput `json:"batch_input"`
}

type hmacInput struct {
	Input string `json:"input"`
}

type hmacResponse struct {
	Data struct {
		BatchResults []struct {
			HMAC  string `json:"hmac"`
			Error string `json:"error"`
		} `json:"batch_results"`
	} `json:"data"`
}

// pseudonymise HMACs n inputs (input(i, buf) appends input i to buf) in chunks of t.batch
// with up to t.conc requests in flight; the first failure cancels the rest.
func (t *transit) pseudonymise(ctx context.Context, n int, input func(i int, buf []byte) []byte) ([]sde.Pseudonym, error) {
	out := make([]sde.Pseudonym, n)
	if n == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgCancelled)
	}
	buf := make([]byte, n*PseudonymLen)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
		sem      = make(chan struct{}, t.conc)
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
loop:
	for lo := 0; lo < n; lo += t.batch {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		hi := min(lo+t.batch, n)
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := t.hmacChunk(ctx, lo, hi, input, buf[lo*PseudonymLen:hi*PseudonymLen]); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, msgCancelled)
	}
	pseudonymStrings(buf, out)
	return out, nil
}

func (t *transit) hmacChunk(ctx context.Context, lo, hi int, input func(int, []byte) []byte, dst []byte) error {
	req := hmacRequest{KeyVersion: t.version, BatchInput: make([]hmacInput, hi-lo)}
	var scratch []byte
	for i := lo; i < hi; i++ {
		scratch = input(i, scratch[:0])
		req.BatchInput[i-lo].Input = base64.StdEncoding.EncodeToString(scratch)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Pseudonymisation failed.")
	}
	rctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	resp, err := t.client.Logical().WriteRawWithContext(rctx, t.hmacURL, body)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return vaultError(ctx, err)
	}
	var r hmacResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		if ctx.Err() != nil {
			return vaultError(ctx, err)
		}
		return sde.Wrap(fmt.Errorf("decoding transit HMAC response: %w", err), sde.EUNAVAILABLE, msgVaultBad)
	}
	res := r.Data.BatchResults
	if len(res) != hi-lo {
		return sde.Wrap(fmt.Errorf("transit returned %d results for %d inputs", len(res), hi-lo), sde.EUNAVAILABLE, msgVaultBad)
	}
	prefix := "vault:v" + strconv.Itoa(t.version) + ":"
	var sum [64]byte
	for i, item := range res {
		if item.Error != "" {
			return sde.Wrap(fmt.Errorf("transit HMAC batch item %d: %s", lo+i, item.Error), sde.EUNAVAILABLE, msgVaultBad)
		}
		b64, ok := strings.CutPrefix(item.HMAC, prefix)
		if !ok {
			return sde.Wrap(fmt.Errorf("transit HMAC item %d lacks prefix %q", lo+i, prefix), sde.EUNAVAILABLE, msgVaultBad)
		}
		if base64.StdEncoding.DecodedLen(len(b64)) > len(sum) {
			return sde.Wrap(fmt.Errorf("transit HMAC item %d too long", lo+i), sde.EUNAVAILABLE, msgVaultBad)
		}
		m, err := base64.StdEncoding.Decode(sum[:], []byte(b64))
		if err != nil || m != 32 {
			return sde.Wrap(fmt.Errorf("transit HMAC item %d: %d bytes, %v", lo+i, m, err), sde.EUNAVAILABLE, msgVaultBad)
		}
		encodePseudonym(dst[i*PseudonymLen:], sum[:])
	}
	return nil
}

// VaultTransit pseudonymises with a Vault transit HMAC key (HMAC-SHA256), pinned to one key
// version. Its pseudonyms equal a local Keyring's for the same 32-byte key.
type VaultTransit struct{ t *transit }

var _ Pseudonymiser = (*VaultTransit)(nil)

// NewVaultTransit connects to Vault transit as cfg says. If cfg.KeyVersion is 0 it reads the
// key's latest version (bounded by cfg.Timeout) and pins it.
func NewVaultTransit(cfg VaultConfig) (*VaultTransit, error) {
	return NewVaultTransitContext(context.Background(), cfg)
}

// NewVaultTransitContext is NewVaultTransit with a context for the version lookup.
func NewVaultTransitContext(ctx context.Context, cfg VaultConfig) (*VaultTransit, error) {
	t, err := newTransit(ctx, cfg, DefaultLinkageKey)
	if err != nil {
		return nil, err
	}
	return &VaultTransit{t: t}, nil
}

// Key names the key and pinned version, e.g. "vault:transit/sde-linkage:3".
func (v *VaultTransit) Key() string { return v.t.name() }

// Version is the pinned key version.
func (v *VaultTransit) Version() int { return v.t.version }

func (t *transit) name() string {
	return "vault:" + t.mount + "/" + t.key + ":" + strconv.Itoa(t.version)
}

// ParseVaultKey splits a Key() string of a Vault pseudonymiser into mount, key and version.
func ParseVaultKey(s string) (mount, key string, version int, err error) {
	rest, ok := strings.CutPrefix(s, "vault:")
	i := strings.LastIndexByte(rest, ':')
	j := strings.LastIndexByte(rest[:max(i, 0)], '/')
	if !ok || i < 0 || j <= 0 {
		return "", "", 0, sde.Errorf(sde.EINVALID, "Not a Vault key name.")
	}
	version, err = strconv.Atoi(rest[i+1:])
	if err != nil || version < 1 || j+1 == i {
		return "", "", 0, sde.Errorf(sde.EINVALID, "Not a Vault key name.")
	}
	return rest[:j], rest[j+1 : i], version, nil
}

// Pseudonymise HMACs ids in Vault. Errors are *sde.Error with code EUNAVAILABLE and a message
// safe to show users.
func (v *VaultTransit) Pseudonymise(ctx context.Context, ids []string) ([]sde.Pseudonym, error) {
	return v.t.pseudonymise(ctx, len(ids), func(i int, b []byte) []byte { return append(b, ids[i]...) })
}

// VaultRekeyer derives per-workspace pseudonyms with a second Vault transit HMAC key (default
// "sde-workspace"): HMAC(key, ws || 0x00 || linkage pseudonym). Mixing the workspace id into
// the input gives each workspace unrelated ids without a key per workspace, and the secret
// stays in Vault (the local mode's HKDF needs the master secret in process memory). The NUL
// separator is unambiguous because workspace ids cannot contain NUL and pseudonyms have a fixed
// length.
type VaultRekeyer struct{ t *transit }

var _ Rekeyer = (*VaultRekeyer)(nil)

// NewVaultRekeyer connects to Vault transit for rekeying; cfg.Key defaults to "sde-workspace".
func NewVaultRekeyer(cfg VaultConfig) (*VaultRekeyer, error) {
	return NewVaultRekeyerContext(context.Background(), cfg)
}

// NewVaultRekeyerContext is NewVaultRekeyer with a context for the version lookup.
func NewVaultRekeyerContext(ctx context.Context, cfg VaultConfig) (*VaultRekeyer, error) {
	t, err := newTransit(ctx, cfg, DefaultWorkspaceKey)
	if err != nil {
		return nil, err
	}
	return &VaultRekeyer{t: t}, nil
}

// Key names the rekey key and pinned version.
func (r *VaultRekeyer) Key() string { return r.t.name() }

// Rekey returns the workspace pseudonym of each linkage pseudonym.
func (r *VaultRekeyer) Rekey(ctx context.Context, ws sde.WorkspaceID, ps []sde.Pseudonym) ([]sde.Pseudonym, error) {
	if err := checkRekeyInput(ws, ps); err != nil {
		return nil, err
	}
	if strings.IndexByte(string(ws), 0) >= 0 {
		return nil, sde.Errorf(sde.EINVALID, "The workspace id is not valid.")
	}
	return r.t.pseudonymise(ctx, len(ps), func(i int, b []byte) []byte {
		b = append(b, ws...)
		b = append(b, 0)
		return append(b, ps[i]...)
	})
}
