package crypto_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/crypto/vaulttest"
	"github.com/opensde/sde/sde"
)

func config(s *vaulttest.Server) crypto.VaultConfig {
	return crypto.VaultConfig{Address: s.Addr, Token: s.Token, MaxRetries: -1}
}

func testIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(9000000000 + i)
	}
	return out
}

// exportableKey creates a transit key whose HMAC key the test may export, so Vault's output
// can be checked against a local HMAC over the same key.
func exportableKey(t *testing.T, s *vaulttest.Server, name string) []byte {
	t.Helper()
	c := s.Client()
	if _, err := c.Logical().Write("transit/keys/"+name, map[string]any{"exportable": true}); err != nil {
		t.Fatal(err)
	}
	sec, err := c.Logical().Read("transit/export/hmac-key/" + name + "/1")
	if err != nil || sec == nil {
		t.Fatalf("exporting hmac key: %v", err)
	}
	keys := sec.Data["keys"].(map[string]any)
	k, err := base64.StdEncoding.DecodeString(keys["1"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func localPseudonym(key []byte, in string) sde.Pseudonym {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return sde.Pseudonym("P" + hex.EncodeToString(m.Sum(nil)[:16]))
}

func TestVaultPseudonymiseMatchesHMACAndOrder(t *testing.T) {
	s := vaulttest.Start(t)
	key := exportableKey(t, s, "export-test")
	cfg := config(s)
	cfg.Key = "export-test"
	cfg.BatchSize = 7000 // uneven last chunk
	p, err := crypto.NewVaultTransit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Key() != "vault:transit/export-test:1" {
		t.Errorf("Key() = %q", p.Key())
	}
	in := testIDs(100_000)
	got, err := p.Pseudonymise(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d pseudonyms for %d ids", len(got), len(in))
	}
	for i := range in {
		if want := localPseudonym(key, in[i]); got[i] != want {
			t.Fatalf("id %d: vault gives %s, HMAC-SHA256 gives %s", i, got[i], want)
		}
	}
}

func TestVaultDeterministicLinkage(t *testing.T) {
	s := vaulttest.Start(t)
	ctx := context.Background()
	p1, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		t.Fatal(err)
	}
	if p1.Key() != "vault:transit/sde-linkage:1" {
		t.Errorf("Key() = %q", p1.Key())
	}
	// Two "organisations" submit overlapping people in different orders and batch sizes.
	in := testIDs(30)
	a, err := p1.Pseudonymise(ctx, in[:20])
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.BatchSize = 3
	p2, _ := crypto.NewVaultTransit(cfg)
	rev := make([]string, 0, 20)
	for i := 29; i >= 10; i-- {
		rev = append(rev, in[i])
	}
	b, err := p2.Pseudonymise(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]sde.Pseudonym{}
	for i, id := range in[:20] {
		if !crypto.ValidPseudonym(a[i]) {
			t.Fatalf("bad pseudonym %q", a[i])
		}
		byID[id] = a[i]
	}
	linked := 0
	for i, id := range rev {
		if want, ok := byID[id]; ok {
			linked++
			if b[i] != want {
				t.Fatalf("id %s: %s then %s", id, want, b[i])
			}
		}
	}
	if linked != 10 {
		t.Fatalf("linked %d, want 10", linked)
	}
	empty, err := p1.Pseudonymise(ctx, nil)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty input: %v %v", empty, err)
	}
}

func TestVaultKeyVersionPinning(t *testing.T) {
	s := vaulttest.Start(t)
	ctx := context.Background()
	in := testIDs(100)
	v1, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := v1.Pseudonymise(ctx, in)
	if got := s.RotateKey(vaulttest.LinkageKey); got != 2 {
		t.Fatalf("rotated to %d", got)
	}
	after, err := v1.Pseudonymise(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := crypto.NewVaultTransit(config(s)) // pins the new latest version
	if err != nil {
		t.Fatal(err)
	}
	if v2.Key() != "vault:transit/sde-linkage:2" {
		t.Fatalf("new pseudonymiser Key() = %s", v2.Key())
	}
	fresh, _ := v2.Pseudonymise(ctx, in)
	// Re-create from the recorded key name, as a re-ingest of an old dataset would.
	_, _, ver, err := crypto.ParseVaultKey(v1.Key())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.KeyVersion = ver
	again, _ := crypto.NewVaultTransit(cfg)
	old, err := again.Pseudonymise(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if before[i] != after[i] || before[i] != old[i] {
			t.Fatalf("id %d: pinned v1 pseudonym changed after rotation", i)
		}
		if fresh[i] == before[i] {
			t.Fatalf("id %d: v2 pseudonym equals v1", i)
		}
	}
}

// checkUnavailable asserts err is EUNAVAILABLE with a message that gives nothing away.
func checkUnavailable(t *testing.T, s *vaulttest.Server, err error, wantMsg string) {
	t.Helper()
	if sde.ErrorCode(err) != sde.EUNAVAILABLE {
		t.Fatalf("err = %v, want code %s", err, sde.EUNAVAILABLE)
	}
	var e *sde.Error
	if !errors.As(err, &e) || e.Err == nil {
		t.Fatalf("err %v carries no cause for the logs", err)
	}
	msg := sde.ErrorMessage(err)
	host := strings.TrimPrefix(s.Addr, "http://")
	port := host[strings.LastIndexByte(host, ':')+1:]
	for _, secret := range []string{s.Addr, host, port, "127.0.0.1", s.Token, "transit", "sde-linkage", "/v1/"} {
		if strings.Contains(msg, secret) {
			t.Errorf("message %q contains %q", msg, secret)
		}
	}
	if strings.Contains(err.Error(), s.Token) {
		t.Errorf("error chain contains the token: %v", err)
	}
	if wantMsg != "" && !strings.Contains(msg, wantMsg) {
		t.Errorf("message %q does not say %q", msg, wantMsg)
	}
}

func TestVaultSealed(t *testing.T) {
	s := vaulttest.Start(t)
	ctx := context.Background()
	p, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		t.Fatal(err)
	}
	in := testIDs(25_000)
	want, err := p.Pseudonymise(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	s.Seal()
	_, err = p.Pseudonymise(ctx, in)
	checkUnavailable(t, s, err, "sealed")
	if _, err := crypto.NewVaultTransit(config(s)); err == nil {
		t.Fatal("constructor succeeded against a sealed Vault")
	} else {
		checkUnavailable(t, s, err, "sealed")
	}
	s.Unseal()
	got, err := p.Pseudonymise(ctx, in)
	if err != nil {
		t.Fatalf("after unseal: %v", err)
	}
	if got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
		t.Fatal("pseudonyms changed across seal/unseal")
	}
}

func TestVaultUnreachable(t *testing.T) {
	s := vaulttest.Start(t)
	p, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	_, err = p.Pseudonymise(context.Background(), testIDs(10))
	checkUnavailable(t, s, err, "cannot be reached")
	_, err = crypto.NewVaultTransit(config(s))
	checkUnavailable(t, s, err, "cannot be reached")
	// With retries on, the caller's deadline still bounds the call.
	cfg := config(s)
	cfg.MaxRetries = 5
	cfg.KeyVersion = 1
	p, err = crypto.NewVaultTransit(cfg)
	if err != nil {
		t.Fatal(err) // a pinned version needs no round trip
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Pseudonymise(ctx, testIDs(10))
	if time.Since(start) > 5*time.Second {
		t.Errorf("deadline not honoured: %v", time.Since(start))
	}
	checkUnavailable(t, s, err, "")
}

func TestVaultPermissionDeniedAndMissingKey(t *testing.T) {
	s := vaulttest.Start(t)
	ctx := context.Background()
	// A token that may read the key but not HMAC with it.
	tok := s.Policy("read-only", `path "transit/keys/sde-linkage" { capabilities = ["read"] }`)
	cfg := config(s)
	cfg.Token = tok
	p, err := crypto.NewVaultTransit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Pseudonymise(ctx, testIDs(3))
	checkUnavailable(t, s, err, "not permitted")
	if strings.Contains(err.Error(), tok) {
		t.Error("error contains the token")
	}
	// Without read on the key, the version lookup is denied too.
	tok2 := s.Policy("hmac-only", `path "transit/hmac/sde-linkage/*" { capabilities = ["update"] }`)
	cfg.Token = tok2
	_, err = crypto.NewVaultTransit(cfg)
	checkUnavailable(t, s, err, "not permitted")
	cfg.KeyVersion = 1
	if p, err = crypto.NewVaultTransit(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pseudonymise(ctx, testIDs(3)); err != nil {
		t.Fatalf("hmac-only token with pinned version: %v", err)
	}

	missing := config(s)
	missing.Key = "no-such-key"
	_, err = crypto.NewVaultTransit(missing)
	checkUnavailable(t, s, err, "does not exist")
	missing.KeyVersion = 1
	p, err = crypto.NewVaultTransit(missing)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Pseudonymise(ctx, testIDs(3))
	checkUnavailable(t, s, err, "")
	// A pinned version the key does not have yet.
	future := config(s)
	future.KeyVersion = 9
	p, _ = crypto.NewVaultTransit(future)
	_, err = p.Pseudonymise(ctx, testIDs(3))
	checkUnavailable(t, s, err, "")
}

func TestVaultContextCancelled(t *testing.T) {
	s := vaulttest.Start(t)
	p, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Pseudonymise(ctx, testIDs(10))
	if sde.ErrorCode(err) != sde.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestVaultRekey(t *testing.T) {
	s := vaulttest.Start(t)
	ctx := context.Background()
	p, _ := crypto.NewVaultTransit(config(s))
	ps, err := p.Pseudonymise(ctx, testIDs(20_000))
	if err != nil {
		t.Fatal(err)
	}
	r, err := crypto.NewVaultRekeyer(config(s))
	if err != nil {
		t.Fatal(err)
	}
	if r.Key() != "vault:transit/sde-workspace:1" {
		t.Errorf("Key() = %s", r.Key())
	}
	a, err := r.Rekey(ctx, "alpha", ps)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := r.Rekey(ctx, "alpha", ps[:100])
	b, _ := r.Rekey(ctx, "beta", ps)
	inA := map[sde.Pseudonym]bool{}
	for _, x := range a {
		inA[x] = true
	}
	for i := range ps {
		if !crypto.ValidPseudonym(a[i]) || a[i] == ps[i] {
			t.Fatalf("rekeyed %q", a[i])
		}
		if i < len(a2) && a2[i] != a[i] {
			t.Fatal("rekey is not deterministic")
		}
		if inA[b[i]] {
			t.Fatal("two workspaces share a person id")
		}
	}
	if _, err := r.Rekey(ctx, "alpha", []sde.Pseudonym{"9434765919"}); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("raw identifier accepted: %v", err)
	}
}

func TestVaultBadConfig(t *testing.T) {
	t.Setenv("VAULT_TOKEN", "")
	for i, cfg := range []crypto.VaultConfig{
		{Address: "http://127.0.0.1:1"}, // no token
		{Address: "http://127.0.0.1:1", Token: "x", Key: "a/b"},
		{Address: "http://127.0.0.1:1", Token: "x", Key: ".."},
		{Address: "http://127.0.0.1:1", Token: "x", KeyVersion: -1},
		{Address: "http://127.0.0.1:1", Token: "x", BatchSize: -5},
	} {
		if _, err := crypto.NewVaultTransit(cfg); sde.ErrorCode(err) != sde.EINVALID {
			t.Errorf("config %d: err = %v, want %s", i, err, sde.EINVALID)
		}
	}
}

func BenchmarkVaultPseudonymise(b *testing.B) {
	s := vaulttest.Start(b)
	p, err := crypto.NewVaultTransit(config(s))
	if err != nil {
		b.Fatal(err)
	}
	in := testIDs(100_000)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Pseudonymise(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(in))/b.Elapsed().Seconds(), "ids/s")
}
