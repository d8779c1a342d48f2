package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Hash is a SHA-256 digest, used for audit chain links.
type Hash [sha256.Size]byte

// String returns the lower-case hex of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hex form of a Hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("crypto: not a SHA-256 hex digest")
	}
	copy(h[:], b)
	return h, nil
}

// ChainHash returns SHA-256(prev || record): the link that commits to a record and, through
// prev, to every record before it. record must be the record's canonical bytes (the caller's
// encoding must be deterministic), or verification will fail after a round trip.
func ChainHash(prev Hash, record []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(record)
	var out Hash
	h.Sum(out[:0])
	return out
}

// HashChain tracks the head of an append-only hash chain. The zero value starts from the
// all-zero genesis hash. It is not safe for concurrent use; the audit log serialises appends.
type HashChain struct{ head Hash }

// NewHashChain resumes a chain whose last link is head.
func NewHashChain(head Hash) *HashChain { return &HashChain{head: head} }

// Append links record to the chain and returns the new head.
func (c *HashChain) Append(record []byte) Hash {
	c.head = ChainHash(c.head, record)
	return c.head
}

// Head returns the current head (the genesis hash if nothing was appended).
func (c *HashChain) Head() Hash { return c.head }

// VerifyChain recomputes the chain from start over records and reports the index of the first
// record whose stored link differs from the recomputed one, or -1 if all match.
func VerifyChain(start Hash, records [][]byte, links []Hash) int {
	prev := start
	for i, r := range records {
		prev = ChainHash(prev, r)
		if i >= len(links) || links[i] != prev {
			return i
		}
	}
	if len(links) > len(records) {
		return len(records)
	}
	return -1
}
