// Package audit keeps the SDE's audit log: an append-only, hash-chained file of JSON lines in
// which every authentication, refusal, governance change, query, release and download is
// recorded, durably, before the request it records is answered.
//
// # File format
//
// One record per line (DATA/audit/audit.jsonl), in the order written, each line the JSON of a
// Record as encoding/json writes it, with "hash" as its last member:
//
//	{"seq":1,"time":"…","prev":"000…000","actor":"analyst1",…,"hash":"3f9c…"}
//
// The record's body is the line with the `,"hash":"…"` member removed (so it ends `…}`); its
// hash is crypto.ChainHash(prev, body) = SHA-256(prev || body), where prev is the previous
// record's hash and the first record's prev is the all-zero hash. Seq counts from 1 without
// gaps. A verifier in another language needs nothing but that paragraph: it hashes the bytes
// as stored, never a re-encoding, so no JSON canonicalisation is needed to check a record.
//
// The chain proves the log has not been edited, reordered or cut in the middle; it cannot prove
// that the newest records were not cut off the end (nor that the whole chain was not rewritten
// by someone able to write the file). Record the head hash that "sde audit verify" prints
// somewhere else — a ticket, a signed release, an off-site copy — and check it with --head.
package audit

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/opensde/sde/sde"
)

// Outcomes of an audited request.
const (
	OutcomeOK      = "ok"      // the request was carried out
	OutcomeRefused = "refused" // authentication, authorisation or a safety rule refused it
	OutcomeError   = "error"   // it failed for another reason
)

// OutcomeOf is the outcome of work that ended with err, the same rule on every face: ok for nil,
// error when the service failed (internal or unavailable), refused for everything the caller's
// input or rights decided. It matches the REST API's rule by status class (4xx refused, 5xx error).
func OutcomeOf(err error) string {
	switch sde.ErrorCode(err) {
	case "":
		return OutcomeOK
	case sde.EINTERNAL, sde.EUNAVAILABLE:
		return OutcomeError
	}
	return OutcomeRefused
}

// Actions named in more than one package. The list is not closed: any dotted lower-case name is
// accepted, and each REST route names its own action in httpapi's route table.
const (
	ActionSignIn      = "auth.signin"
	ActionSignOut     = "auth.signout"
	ActionAuthRefused = "auth.refused"
	ActionQueryRun    = "query.run"
	// ActionRecovered is written by Open when it set aside a torn final line.
	ActionRecovered = "audit.recovered"
)

// Event is what a caller asks to record.
type Event struct {
	Actor        sde.UserID      // who; empty for the service itself
	Organisation sde.OrgCode     // the actor's organisation, if known
	Action       string          // what, e.g. "query.run" (required)
	Outcome      string          // OutcomeOK, OutcomeRefused or OutcomeError (required)
	Workspace    sde.WorkspaceID // the workspace acted in, if any
	Target       string          // the object acted on: an agreement, release or dataset ID
	RemoteAddr   string          // the client's address, if the request came over the network
	// Details are extra facts (an error code, a query ID, row counts). Keys that look like they
	// name credentials are dropped (see Redact), but keeping secrets, identifiers and data out
	// of Details remains the caller's job.
	Details map[string]any
}

// FromPrincipal starts an Event for the authenticated caller (nil: the service itself).
func FromPrincipal(p *sde.Principal, action, outcome string) Event {
	ev := Event{Action: action, Outcome: outcome}
	if p != nil {
		ev.Actor, ev.Organisation = p.User, p.Organisation
	}
	return ev
}

// Record is one line of the log. Field order is the file format: do not reorder.
type Record struct {
	Seq          int64           `json:"seq"`
	Time         time.Time       `json:"time"`
	Prev         string          `json:"prev"`
	Actor        sde.UserID      `json:"actor,omitempty"`
	Organisation sde.OrgCode     `json:"org,omitempty"`
	Action       string          `json:"action"`
	Outcome      string          `json:"outcome"`
	Workspace    sde.WorkspaceID `json:"workspace,omitempty"`
	Target       string          `json:"target,omitempty"`
	RemoteAddr   string          `json:"remote_addr,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
	Hash         string          `json:"hash,omitempty"` // always last: see the package comment
}

// Appender is what the REST API and Flight need of the log (*Log implements it); tests of
// other packages can fake it.
type Appender interface {
	Append(ctx context.Context, ev Event) (Record, error)
}

// secretWords are substrings of key names whose values are never written to the log.
var secretWords = []string{
	"token", "secret", "password", "passwd", "passphrase", "authorization", "cookie",
	"apikey", "api_key", "api-key", "credential", "private_key", "privatekey", "bearer",
}

// IsSecretKey reports whether a Details key looks like it names a credential.
func IsSecretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Redact returns a copy of m without keys that look like they name credentials (see
// IsSecretKey), looking into nested maps and slices. Append applies it to every Event's
// Details; it is exported so callers can clean maps they also log elsewhere.
func Redact(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if IsSecretKey(k) {
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return Redact(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactValue(x)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, x := range v {
			if !IsSecretKey(k) {
				out[k] = x
			}
		}
		return out
	}
	return v
}

// validAction accepts dotted lower-case names such as "query.run".
func validAction(a string) bool {
	if a == "" || len(a) > 64 || a[0] == '.' || a[len(a)-1] == '.' {
		return false
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validOutcome(o string) bool {
	return o == OutcomeOK || o == OutcomeRefused || o == OutcomeError
}
