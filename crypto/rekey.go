package crypto

import (
	"context"
	"crypto/sha256"
	"io"
	"sync"

	"golang.org/x/crypto/hkdf"

	"github.com/opensde/sde/sde"
)

// workspaceInfo is the HKDF info prefix that binds a derived key to one workspace.
const workspaceInfo = "sde workspace "

// LocalRekeyer derives a per-workspace key from a master secret with HKDF-SHA256 (info
// "sde workspace "+ws) and HMACs linkage pseudonyms with it. Deterministic, so re-activating a
// workspace reproduces its person_ids; workspaces get unrelated ids for the same person.
type LocalRekeyer struct {
	master []byte
	pools  sync.Map // sde.WorkspaceID -> *hmacPool
}

var _ Rekeyer = (*LocalRekeyer)(nil)

func newLocalRekeyer(master []byte) *LocalRekeyer {
	return &LocalRekeyer{master: append([]byte(nil), master...)}
}

// NewLocalRekeyer returns a rekeyer over the given master secret (at least 32 bytes). Most
// callers use Keyring.Rekeyer instead.
func NewLocalRekeyer(master []byte) (*LocalRekeyer, error) {
	if len(master) < keySize {
		return nil, sde.Errorf(sde.EINVALID, "The workspace master secret is too short.")
	}
	return newLocalRekeyer(master), nil
}

// Key names the master secret by its fingerprint, e.g. "local:workspace:3f9a0c1e", for the
// workspace manifest.
func (r *LocalRekeyer) Key() string { return "local:workspace:" + keyFingerprint(r.master) }

// WorkspaceKey derives the 32-byte key of workspace ws.
func (r *LocalRekeyer) WorkspaceKey(ws sde.WorkspaceID) []byte {
	key := make([]byte, keySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, r.master, nil, []byte(workspaceInfo+string(ws))), key); err != nil {
		panic("crypto: hkdf: " + err.Error()) // cannot happen for 32 bytes
	}
	return key
}

func (r *LocalRekeyer) pool(ws sde.WorkspaceID) *hmacPool {
	if p, ok := r.pools.Load(ws); ok {
		return p.(*hmacPool)
	}
	p, _ := r.pools.LoadOrStore(ws, newHMACPool(r.WorkspaceKey(ws)))
	return p.(*hmacPool)
}

// Rekey returns HMAC-SHA256(HKDF(master, ws), p) in pseudonym format for each linkage pseudonym p.
func (r *LocalRekeyer) Rekey(ctx context.Context, ws sde.WorkspaceID, ps []sde.Pseudonym) ([]sde.Pseudonym, error) {
	if err := checkRekeyInput(ws, ps); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return hmacPseudonymise(r.pool(ws), ps), nil
}

// checkRekeyInput refuses anything but well-formed pseudonyms, so a raw identifier passed here
// by mistake is never turned into something that looks like a safe workspace id.
func checkRekeyInput(ws sde.WorkspaceID, ps []sde.Pseudonym) error {
	if ws == "" {
		return sde.Errorf(sde.EINVALID, "A workspace is required to derive workspace pseudonyms.")
	}
	for i, p := range ps {
		if !ValidPseudonym(p) {
			return sde.Errorf(sde.EINVALID, "Input %d is not a linkage pseudonym.", i+1)
		}
	}
	return nil
}
