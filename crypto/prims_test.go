package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
)

func TestValidNHSNumber(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"9434765919", true}, // NHS Digital's published example
		{"4010232137", true}, // check digit 7
		{"4505577104", true}, // check digit 4
		{"4000000020", true}, // sum mod 11 = 0 → check 11 → 0
		{"4000000021", false},
		{"9434765918", false}, // wrong check digit
		{"9434765910", false},
		{"1234567890", false}, // check would be 10: never issued
		{"943476591", false},  // too short
		{"94347659190", false},
		{"943 476 5919", false}, // separators are the caller's to strip
		{"943476591a", false},
		{"", false},
		{"０434765919", false}, // non-ASCII digit
	} {
		if got := ValidNHSNumber(tc.s); got != tc.want {
			t.Errorf("ValidNHSNumber(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestHashChain(t *testing.T) {
	recs := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`), []byte(`{"c":3}`)}
	var c HashChain
	if c.Head() != (Hash{}) {
		t.Fatal("zero chain does not start at the zero genesis")
	}
	var links []Hash
	for _, r := range recs {
		links = append(links, c.Append(r))
	}
	want := sha256.Sum256(append(Hash{}.bytes(), recs[0]...))
	if links[0] != Hash(want) {
		t.Fatalf("first link = %s, want SHA-256(zero||record)", links[0])
	}
	if links[2] != c.Head() {
		t.Fatal("head is not the last link")
	}
	if i := VerifyChain(Hash{}, recs, links); i != -1 {
		t.Fatalf("valid chain fails at %d", i)
	}
	tampered := [][]byte{recs[0], []byte(`{"b":3}`), recs[2]}
	if i := VerifyChain(Hash{}, tampered, links); i != 1 {
		t.Fatalf("tampered record detected at %d, want 1", i)
	}
	if i := VerifyChain(Hash{}, recs[:2], links); i != 2 {
		t.Fatalf("truncated records detected at %d, want 2", i)
	}
	resumed := NewHashChain(links[1])
	if resumed.Append(recs[2]) != links[2] {
		t.Fatal("resumed chain diverges")
	}
	h, err := ParseHash(links[1].String())
	if err != nil || h != links[1] {
		t.Fatalf("ParseHash round trip: %v", err)
	}
	if _, err := ParseHash("abc"); err == nil {
		t.Fatal("ParseHash accepted a short string")
	}
}

func (h Hash) bytes() []byte { return h[:] }

func TestSigner(t *testing.T) {
	k, err := OpenKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := k.Signer()
	msg := []byte(`{"release":"r1","cells":[[1,2]]}`)
	sig := s.Sign(msg)
	if !Verify(s.PublicKey(), msg, sig) {
		t.Fatal("signature does not verify")
	}
	if Verify(s.PublicKey(), append(bytes.Clone(msg), ' '), sig) {
		t.Fatal("signature verifies a changed message")
	}
	if Verify(ed25519.PublicKey{1, 2}, msg, sig) {
		t.Fatal("short public key accepted")
	}
	if s.KeyID() != k.Signer().KeyID() || len(s.KeyID()) != len("ed25519:")+16 {
		t.Fatalf("KeyID %q not stable", s.KeyID())
	}
}
