package crypto

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opensde/sde/sde"
)

// These tests use a fake transit endpoint to reach response shapes a healthy Vault does not
// produce; behaviour against Vault itself is tested with the real dev server in vault_test.go.

func fakeTransit(t *testing.T, handle func(w http.ResponseWriter, inputs []string)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/hmac/k/sha2-256") {
			http.Error(w, `{"errors":["unexpected path"]}`, 500)
			return
		}
		var req hmacRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.KeyVersion != 1 {
			http.Error(w, `{"errors":["bad request"]}`, 400)
			return
		}
		var in []string
		for _, b := range req.BatchInput {
			d, _ := base64.StdEncoding.DecodeString(b.Input)
			in = append(in, string(d))
		}
		handle(w, in)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type item struct {
	HMAC  string `json:"hmac,omitempty"`
	Error string `json:"error,omitempty"`
}

func reply(w http.ResponseWriter, items []item) {
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"batch_results": items}})
}

func goodItem(in string) item {
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte(in))
	return item{HMAC: "vault:v1:" + base64.StdEncoding.EncodeToString(m.Sum(nil))}
}

func fakeClient(t *testing.T, srv *httptest.Server, batch int) *VaultTransit {
	t.Helper()
	p, err := NewVaultTransit(VaultConfig{Address: srv.URL, Token: "secret-token", Key: "k", KeyVersion: 1, BatchSize: batch, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVaultResponseHandling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle func(w http.ResponseWriter, in []string)
		msg    string
	}{
		{"item error", func(w http.ResponseWriter, in []string) {
			items := make([]item, len(in))
			for i := range in {
				items[i] = goodItem(in[i])
			}
			items[len(items)-1] = item{Error: "boom"}
			reply(w, items)
		}, msgVaultBad},
		{"short results", func(w http.ResponseWriter, in []string) { reply(w, []item{goodItem(in[0])}) }, msgVaultBad},
		{"wrong version", func(w http.ResponseWriter, in []string) {
			items := make([]item, len(in))
			for i := range in {
				items[i] = goodItem(in[i])
				items[i].HMAC = strings.Replace(items[i].HMAC, "v1", "v2", 1)
			}
			reply(w, items)
		}, msgVaultBad},
		{"bad base64", func(w http.ResponseWriter, in []string) {
			items := make([]item, len(in))
			for i := range in {
				items[i] = item{HMAC: "vault:v1:!!!"}
			}
			reply(w, items)
		}, msgVaultBad},
		{"short hmac", func(w http.ResponseWriter, in []string) {
			items := make([]item, len(in))
			for i := range in {
				items[i] = item{HMAC: "vault:v1:" + base64.StdEncoding.EncodeToString([]byte("short"))}
			}
			reply(w, items)
		}, msgVaultBad},
		{"not json", func(w http.ResponseWriter, in []string) { w.Write([]byte("<html>")) }, msgVaultBad},
		{"sealed", func(w http.ResponseWriter, in []string) {
			w.WriteHeader(503)
			w.Write([]byte(`{"errors":["Vault is sealed"]}`))
		}, msgSealed},
		{"denied", func(w http.ResponseWriter, in []string) {
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n"]}`))
		}, msgDenied},
		{"missing key", func(w http.ResponseWriter, in []string) {
			w.WriteHeader(400)
			w.Write([]byte(`{"errors":["encryption key not found"]}`))
		}, msgKeyMissing},
		{"other", func(w http.ResponseWriter, in []string) {
			w.WriteHeader(500)
			w.Write([]byte(`{"errors":["internal"]}`))
		}, msgVaultBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeTransit(t, tc.handle)
			_, err := fakeClient(t, srv, 2).Pseudonymise(context.Background(), []string{"a", "b", "c"})
			if sde.ErrorCode(err) != sde.EUNAVAILABLE || sde.ErrorMessage(err) != tc.msg {
				t.Fatalf("err = %v, want %s %q", err, sde.EUNAVAILABLE, tc.msg)
			}
			if strings.Contains(sde.ErrorMessage(err), srv.URL[len("http://"):]) || strings.Contains(err.Error(), "secret-token") {
				t.Fatalf("error leaks address or token: %v", err)
			}
		})
	}
}

func TestVaultChunksInFlight(t *testing.T) {
	var calls, inFlight, maxInFlight atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	srv := fakeTransit(t, func(w http.ResponseWriter, in []string) {
		calls.Add(1)
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		if n == DefaultVaultConcurrency {
			once.Do(func() { close(release) })
		}
		<-release
		defer inFlight.Add(-1)
		items := make([]item, len(in))
		for i := range in {
			items[i] = goodItem(in[i])
		}
		reply(w, items)
	})
	in := make([]string, 95)
	for i := range in {
		in[i] = string(rune('A'+i%26)) + strings.Repeat("x", i)
	}
	got, err := fakeClient(t, srv, 10).Pseudonymise(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		m := hmac.New(sha256.New, []byte("k"))
		m.Write([]byte(in[i]))
		if got[i] != FormatPseudonym(m.Sum(nil)) {
			t.Fatalf("id %d out of order or wrong", i)
		}
	}
	if calls.Load() != 10 || maxInFlight.Load() != DefaultVaultConcurrency {
		t.Fatalf("calls %d, max in flight %d", calls.Load(), maxInFlight.Load())
	}
}

func TestParseVaultKey(t *testing.T) {
	m, k, v, err := ParseVaultKey("vault:secret/transit/sde-linkage:12")
	if err != nil || m != "secret/transit" || k != "sde-linkage" || v != 12 {
		t.Fatalf("got %q %q %d %v", m, k, v, err)
	}
	for _, bad := range []string{"", "vault:", "vault:transit/k", "vault:k:1", "vault:transit/:1", "vault:transit/k:0", "local:linkage:1", "vault:/k:1"} {
		if _, _, _, err := ParseVaultKey(bad); err == nil {
			t.Errorf("ParseVaultKey(%q): no error", bad)
		}
	}
}
