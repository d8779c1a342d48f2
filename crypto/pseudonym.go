package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"runtime"
	"sync"
	"unsafe"

	"github.com/opensde/sde/sde"
)

const (
	// PseudonymLen is the length of a pseudonym: "P" and 32 lower-case hex digits.
	PseudonymLen = 1 + 2*pseudonymBytes
	// pseudonymBytes is how much of the HMAC-SHA256 output a pseudonym keeps: 128 bits make
	// accidental collisions negligible for any population (birthday bound ~2^64).
	pseudonymBytes = 16
	// parallelMin is the batch size below which spreading work over goroutines costs more
	// than it saves.
	parallelMin = 8192
)

const hexDigits = "0123456789abcdef"

// encodePseudonym writes "P" and the hex of sum[:16] into dst, which must hold PseudonymLen bytes.
func encodePseudonym(dst, sum []byte) {
	_ = dst[PseudonymLen-1]
	dst[0] = 'P'
	for i, b := range sum[:pseudonymBytes] {
		dst[1+2*i] = hexDigits[b>>4]
		dst[2+2*i] = hexDigits[b&0x0f]
	}
}

// FormatPseudonym turns a (truncated or full) HMAC-SHA256 output into the pseudonym format.
func FormatPseudonym(sum []byte) sde.Pseudonym {
	if len(sum) < pseudonymBytes {
		panic("crypto: FormatPseudonym: short digest")
	}
	var b [PseudonymLen]byte
	encodePseudonym(b[:], sum)
	return sde.Pseudonym(b[:])
}

// ValidPseudonym reports whether p has the pseudonym format: "P" and 32 lower-case hex digits.
func ValidPseudonym(p sde.Pseudonym) bool {
	if len(p) != PseudonymLen || p[0] != 'P' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// pseudonymStrings turns a buffer of n back-to-back encoded pseudonyms into strings without
// copying. The buffer is never written again once this is called, so sharing it is safe; the
// cost is that one retained pseudonym keeps the whole batch's buffer alive (33 bytes an id).
func pseudonymStrings(buf []byte, out []sde.Pseudonym) {
	for i := range out {
		b := buf[i*PseudonymLen : (i+1)*PseudonymLen]
		out[i] = sde.Pseudonym(unsafe.String(&b[0], PseudonymLen))
	}
}

// hmacPool hands out keyed HMAC-SHA256 hashers so the hot path does not pay for hmac.New (two
// SHA-256 states and the padded key) per call; Reset restores the precomputed keyed state.
type hmacPool struct{ p sync.Pool }

func newHMACPool(key []byte) *hmacPool {
	k := append([]byte(nil), key...)
	hp := &hmacPool{}
	hp.p.New = func() any { return hmac.New(sha256.New, k) }
	return hp
}

func (hp *hmacPool) get() hash.Hash  { return hp.p.Get().(hash.Hash) }
func (hp *hmacPool) put(h hash.Hash) { hp.p.Put(h) }

// hmacPseudonymise computes the pseudonym of every in[i], splitting large batches over
// GOMAXPROCS goroutines. Context (a workspace) is bound by the key, not the input.
func hmacPseudonymise[S ~string](hp *hmacPool, in []S) []sde.Pseudonym {
	out := make([]sde.Pseudonym, len(in))
	if len(in) == 0 {
		return out
	}
	buf := make([]byte, len(in)*PseudonymLen)
	workers := runtime.GOMAXPROCS(0)
	if len(in) < parallelMin || workers < 2 {
		hmacRange(hp, in, buf)
	} else {
		per := (len(in) + workers - 1) / workers
		var wg sync.WaitGroup
		for lo := 0; lo < len(in); lo += per {
			hi := min(lo+per, len(in))
			wg.Add(1)
			go func() {
				defer wg.Done()
				hmacRange(hp, in[lo:hi], buf[lo*PseudonymLen:hi*PseudonymLen])
			}()
		}
		wg.Wait()
	}
	pseudonymStrings(buf, out)
	return out
}

func hmacRange[S ~string](hp *hmacPool, in []S, dst []byte) {
	h := hp.get()
	defer hp.put(h)
	var sum [sha256.Size]byte
	scratch := make([]byte, 0, 64)
	for i, id := range in {
		h.Reset()
		// Copying into a reused scratch buffer avoids a per-id []byte(string) allocation,
		// which escapes through the hash.Hash interface.
		scratch = append(scratch[:0], id...)
		h.Write(scratch)
		h.Sum(sum[:0])
		encodePseudonym(dst[i*PseudonymLen:], sum[:])
	}
}
