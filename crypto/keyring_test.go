package crypto

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

func refPseudonym(key []byte, id string) sde.Pseudonym {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return sde.Pseudonym("P" + hex.EncodeToString(m.Sum(nil)[:16]))
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(9000000000 + i)
	}
	return out
}

func TestKeyringCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Key(); !strings.HasPrefix(got, "local:linkage:1:") || len(got) != len("local:linkage:1:")+8 {
		t.Errorf("Key() = %q", got)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, KeyringFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), st.Mode().Perm(), want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("keyring dir holds %d entries, want only the key file", len(ents))
	}
}

func TestKeyringDeterministic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k1, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := ids(20000) // large enough to take the parallel path
	a, err := k1.Pseudonymise(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := OpenKeyring(dir) // reopening reads the same key
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k2.Pseudonymise(ctx, in[:10])
	key := k1.data.Linkage[0].Key
	seen := map[sde.Pseudonym]bool{}
	for i, p := range a {
		if !ValidPseudonym(p) {
			t.Fatalf("pseudonym %q has the wrong format", p)
		}
		if want := refPseudonym(key, in[i]); p != want {
			t.Fatalf("id %d: got %s, want %s", i, p, want)
		}
		if i < len(b) && b[i] != p {
			t.Fatalf("id %d: reopened keyring gives %s, want %s", i, b[i], p)
		}
		if seen[p] {
			t.Fatalf("collision at %d", i)
		}
		seen[p] = true
	}
	// A different keyring (different random key) must give different pseudonyms.
	other, _ := OpenKeyring(t.TempDir())
	c, _ := other.Pseudonymise(ctx, in[:1])
	if c[0] == a[0] {
		t.Error("two fresh keyrings produced the same pseudonym")
	}
}

func TestKeyringRefusesReadableKeyFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		dir := t.TempDir()
		if _, err := OpenKeyring(dir); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, KeyringFile)
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := OpenKeyring(dir)
		if sde.ErrorCode(err) != sde.EINVALID {
			t.Fatalf("mode %04o: err = %v, want %s", mode, err, sde.EINVALID)
		}
		if msg := sde.ErrorMessage(err); !strings.Contains(msg, "0600") || strings.Contains(msg, dir) {
			t.Errorf("mode %04o: message %q should name the fix and not the path", mode, msg)
		}
	}
}

func TestKeyringRefusesSharedDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(dir); sde.ErrorCode(err) != sde.EINVALID || !strings.Contains(sde.ErrorMessage(err), "0700") {
		t.Fatalf("err = %v, want %s naming 0700", err, sde.EINVALID)
	}
}

func TestKeyringRefusesCorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyringFile), []byte(`{"format":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(dir); sde.ErrorCode(err) != sde.EINVALID {
		t.Fatalf("err = %v, want %s", err, sde.EINVALID)
	}
}

func TestKeyringRotationKeepsPin(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, _ := OpenKeyring(dir)
	in := ids(5)
	before, _ := k.Pseudonymise(ctx, in)
	v, err := k.Rotate()
	if err != nil || v != 2 {
		t.Fatalf("Rotate() = %d, %v", v, err)
	}
	if !strings.HasPrefix(k.Key(), "local:linkage:1:") || k.Latest() != 2 {
		t.Fatalf("after rotate: Key %s Latest %d", k.Key(), k.Latest())
	}
	after, _ := k.Pseudonymise(ctx, in)
	for i := range in {
		if before[i] != after[i] {
			t.Fatalf("rotation changed a pinned pseudonym")
		}
	}
	// Reopen: default pin is the newest version, which differs; pinning to the recorded
	// version reproduces the old pseudonyms.
	k2, err := OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k2.Key(), "local:linkage:2:") || k2.Key()[16:] == k.Key()[16:] {
		t.Fatalf("reopened Key = %s", k2.Key())
	}
	v2, _ := k2.Pseudonymise(ctx, in)
	if v2[0] == before[0] {
		t.Error("new key version gives the same pseudonym")
	}
	ver, err := ParseLocalKey(k.Key())
	if err != nil {
		t.Fatal(err)
	}
	k1, err := k2.Pinned(ver)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := k1.Pseudonymise(ctx, in)
	if again[0] != before[0] {
		t.Error("pinning to version 1 after reopen does not reproduce pseudonyms")
	}
	if _, err := k2.Pinned(3); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("Pinned(3) err = %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, KeyringFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("rotated key file mode %04o", st.Mode().Perm())
	}
}

func TestKeyringContextCancelled(t *testing.T) {
	k, _ := OpenKeyring(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := k.Pseudonymise(ctx, ids(3)); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestParseLocalKey(t *testing.T) {
	for _, bad := range []string{"", "local:linkage:", "local:linkage:0", "vault:transit/x:1", "local:linkage:x"} {
		if _, err := ParseLocalKey(bad); err == nil {
			t.Errorf("ParseLocalKey(%q): no error", bad)
		}
	}
}

func TestLocalRekeySeparatesWorkspaces(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k, _ := OpenKeyring(dir)
	ps, _ := k.Pseudonymise(ctx, ids(10000))
	r := k.Rekeyer()
	a, err := r.Rekey(ctx, "alpha", ps)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.Rekey(ctx, "beta", ps)
	k2, _ := OpenKeyring(dir)
	a2, _ := k2.Rekeyer().Rekey(ctx, "alpha", ps)
	inA := map[sde.Pseudonym]bool{}
	for _, p := range a {
		inA[p] = true
	}
	wsKey := r.WorkspaceKey("alpha")
	for i := range ps {
		if !ValidPseudonym(a[i]) || a[i] == ps[i] {
			t.Fatalf("rekeyed %q from %q", a[i], ps[i])
		}
		if a[i] != a2[i] {
			t.Fatal("rekey is not deterministic across keyring opens")
		}
		if want := refPseudonym(wsKey, string(ps[i])); a[i] != want {
			t.Fatalf("rekey = %s, want %s", a[i], want)
		}
		if inA[b[i]] {
			t.Fatal("two workspaces share a person id")
		}
	}
	if _, err := r.Rekey(ctx, "alpha", []sde.Pseudonym{"9434765919"}); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("raw identifier accepted: %v", err)
	}
	if _, err := r.Rekey(ctx, "", ps[:1]); sde.ErrorCode(err) != sde.EINVALID {
		t.Errorf("empty workspace accepted: %v", err)
	}
}

func BenchmarkKeyringPseudonymise(b *testing.B) {
	k, err := OpenKeyring(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	in := ids(1_000_000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.Pseudonymise(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(in))/b.Elapsed().Seconds(), "ids/s")
}

func BenchmarkLocalRekey(b *testing.B) {
	k, _ := OpenKeyring(b.TempDir())
	ctx := context.Background()
	ps, _ := k.Pseudonymise(ctx, ids(1_000_000))
	r := k.Rekeyer()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Rekey(ctx, "demo", ps); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(ps))/b.Elapsed().Seconds(), "ids/s")
}

// TestKeyNamesTellKeyringsApart: two keyrings both at version 1 have different key names, so
// the catalogue's "same linkage key" guard cannot be fooled by a replaced key file.
func TestKeyNamesTellKeyringsApart(t *testing.T) {
	a, err := OpenKeyring(filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenKeyring(filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() == b.Key() {
		t.Errorf("two keyrings share the key name %s", a.Key())
	}
	if a.Rekeyer().Key() == b.Rekeyer().Key() || !strings.HasPrefix(a.Rekeyer().Key(), "local:workspace:") {
		t.Errorf("rekeyer names %s %s", a.Rekeyer().Key(), b.Rekeyer().Key())
	}
	if v, err := ParseLocalKey(a.Key()); err != nil || v != 1 {
		t.Errorf("ParseLocalKey(%s) = %d, %v", a.Key(), v, err)
	}
}
