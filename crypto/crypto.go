// Package crypto turns person identifiers into pseudonyms (with a key held in Vault transit or a
// local keyring), derives per-workspace pseudonyms, and provides the hashing primitives the audit
// chain and release signatures use.
package crypto

import (
	"context"

	"github.com/opensde/sde/sde"
)

// Pseudonymiser turns raw person identifiers into linkage pseudonyms with a secret key that is
// never written next to the data. The same identifier under the same key version always gives the
// same pseudonym, so datasets from different organisations link.
//
// Pseudonym format (both implementations): "P" followed by the lower-case hex of the first 16 bytes
// of HMAC-SHA256(key, identifier) — 33 characters.
type Pseudonymiser interface {
	// Pseudonymise returns one pseudonym per identifier, in order. Implementations batch
	// internally; callers should pass distinct identifiers, many at a time.
	Pseudonymise(ctx context.Context, ids []string) ([]sde.Pseudonym, error)
	// Key names the key and the pinned version in use, e.g. "local:linkage:1" or
	// "vault:transit/sde-linkage:3". It is recorded with every dataset version so a key rotation
	// never silently changes pseudonyms.
	Key() string
}

// Rekeyer derives per-workspace pseudonyms from linkage pseudonyms, so one person has unrelated
// ids in different workspaces and two workspaces cannot link their outputs.
type Rekeyer interface {
	Rekey(ctx context.Context, ws sde.WorkspaceID, ps []sde.Pseudonym) ([]sde.Pseudonym, error)
}
