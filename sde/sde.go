// Package sde holds the domain vocabulary of the secure data environment: identifiers,
// error codes with user-safe messages, and the small interfaces the subpackages implement.
package sde

import (
	"crypto/rand"
	"encoding/hex"
)

// Distinct string types so the compiler catches mix-ups between kinds of name.
type (
	// OrgCode identifies an organisation that controls data (e.g. a GP federation or a trust).
	OrgCode string
	// DatasetName names a dataset in the catalogue, e.g. "gp_events".
	DatasetName string
	// WorkspaceID names a workspace, e.g. "demo".
	WorkspaceID string
	// Pseudonym is a keyed hash standing for a person; see package crypto for its format.
	Pseudonym string
	// UserID is the subject of an authenticated person.
	UserID string
)

// NewID is a random identifier with a kind prefix ("q-", "rel-", ...): 64 random bits, so the
// service can name a record before writing it (a query's result names its own release).
func NewID(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
