package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
)

// Signer signs releases with Ed25519 so anyone holding the public key can check that a
// released output came from this SDE unchanged.
type Signer struct {
	priv ed25519.PrivateKey
	id   string
}

// NewSigner returns a signer for priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}
}

// KeyID names a public key: "ed25519:" and the hex of the first 8 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// KeyID names the signer's public key, for recording next to signatures.
func (s *Signer) KeyID() string { return s.id }

// PublicKey returns the key that verifies the signer's signatures.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.priv.Public().(ed25519.PublicKey) }

// Sign signs msg, which should be the canonical bytes of a release record.
func (s *Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.priv, msg) }

// Verify reports whether sig is pub's signature of msg.
func Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}
