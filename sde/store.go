package sde

import (
	"context"
	"encoding/json"
)

// The control-plane services. Every method takes the caller from the context (PrincipalFrom) and
// enforces who may do what itself, so no transport (REST, Flight SQL, CLI) can forget a rule.
// Failures are *Error: EUNAUTHORIZED without a caller, EFORBIDDEN for a caller without the right,
// EINVALID for bad input, ENOTFOUND for a missing (or invisible) target, ECONFLICT for a clash with
// the current state. A refused change changes nothing. Package store implements them over SQLite.

// OrganisationService holds the organisations that control data or employ users.
type OrganisationService interface {
	// Register adds an organisation; administrators only.
	Register(ctx context.Context, o *Organisation) error
	Get(ctx context.Context, code OrgCode) (*Organisation, error)
	List(ctx context.Context) ([]*Organisation, error)
}

// PersonService holds the people who may be workspace members.
type PersonService interface {
	// Register adds a person; administrators only.
	Register(ctx context.Context, p *Person) error
	Get(ctx context.Context, id UserID) (*Person, error)
	List(ctx context.Context) ([]*Person, error)
}

// DatasetService is the catalogue of registered datasets, readable by any signed-in user.
type DatasetService interface {
	// Register adds a dataset from its sde/catalog spec (d.Spec); administrators only. The
	// controller and columns are taken from the spec.
	Register(ctx context.Context, d *Dataset) error
	Get(ctx context.Context, name DatasetName) (*Dataset, error)
	List(ctx context.Context) ([]*Dataset, error)
	// Usage reports which workspaces use a dataset and how much, for its controller (and
	// administrators): a controller sees what their data is used for, and by whom.
	Usage(ctx context.Context, name DatasetName) (*DatasetUsage, error)
}

// AgreementService holds data-sharing agreements. Agreements are readable by any signed-in user
// (they are published on the transparency page); only controllers of a party change them.
type AgreementService interface {
	// Create records a new agreement, unsigned; the caller must be a controller of a party.
	Create(ctx context.Context, a *Agreement) error
	Get(ctx context.Context, id AgreementID) (*Agreement, error)
	List(ctx context.Context) ([]*Agreement, error)
	// Sign records the caller's organisation's signature.
	Sign(ctx context.Context, id AgreementID) (*Agreement, error)
	// Revoke ends the agreement for good; its workspaces are suspended.
	Revoke(ctx context.Context, id AgreementID, reason string) (*Agreement, error)
}

// WorkspaceService runs the workspace lifecycle: requested → approved by the controller of every
// dataset → active while the agreement is in force and the end date is ahead → suspended
// automatically otherwise → archived. State is derived from its inputs on every read, so no
// background job is needed for suspension; ApplyLifecycle records the transitions.
type WorkspaceService interface {
	// Request creates a workspace request; analysts only. The requester becomes an analyst member.
	Request(ctx context.Context, ws *Workspace) error
	// Get returns a workspace the caller may see: its requester, members, controllers of its
	// datasets and output checkers.
	Get(ctx context.Context, id WorkspaceID) (*Workspace, error)
	List(ctx context.Context, f WorkspaceFilter) ([]*Workspace, error)
	// History lists a workspace's events, oldest first.
	History(ctx context.Context, id WorkspaceID) ([]*WorkspaceEvent, error)
	// Decide approves, refuses or withdraws the caller's organisation's datasets.
	Decide(ctx context.Context, id WorkspaceID, d Decision) (*Workspace, error)
	// AddMember adds a member (analyst or planner); added by a controller of the workspace's
	// datasets it is confirmed at once, added by the requester it waits for a controller.
	AddMember(ctx context.Context, id WorkspaceID, user UserID, role Role) (*Workspace, error)
	// ConfirmMember re-confirms a membership for another review period; controllers only.
	ConfirmMember(ctx context.Context, id WorkspaceID, user UserID) (*Workspace, error)
	RemoveMember(ctx context.Context, id WorkspaceID, user UserID) (*Workspace, error)
	// Archive closes a workspace for good.
	Archive(ctx context.Context, id WorkspaceID, reason string) (*Workspace, error)
	// ApplyLifecycle persists the state transitions and membership lapses time has caused and
	// returns them (for the audit log).
	ApplyLifecycle(ctx context.Context) ([]*WorkspaceEvent, error)
	// CanQuery reports whether the caller may run queries in the workspace now: an analyst
	// member whose membership has not lapsed, of an active workspace whose agreement is in force.
	CanQuery(ctx context.Context, id WorkspaceID) error
	// CanView is CanQuery for any member role (planners viewing dashboards).
	CanView(ctx context.Context, id WorkspaceID) error
	// Use is CanQuery (role analyst) or CanView (role "") and the workspace with its agreement,
	// read together: what running a query needs before it starts.
	Use(ctx context.Context, id WorkspaceID, role Role) (*Workspace, *Agreement, error)
}

// ReleaseService records the results that left a workspace.
type ReleaseService interface {
	// Record stores a release by the caller, who must be able to view the workspace now.
	Record(ctx context.Context, r *Release) error
	// List returns a workspace's releases, oldest first, to those who may see the workspace.
	List(ctx context.Context, ws WorkspaceID) ([]*Release, error)
	// Ledger returns the differencing-ledger entries of a workspace's releases with the given
	// key and a sequence number above after (0 for all), oldest first, for the disclosure
	// engine; the caller must be able to query the workspace. Entries are never changed or
	// removed and each new one gets a higher Seq, so a caller may keep what it has read.
	Ledger(ctx context.Context, ws WorkspaceID, key string, after int64) ([]LedgerEntry, error)
}

// LedgerEntry is one distinct released table in a workspace's differencing ledger.
type LedgerEntry struct {
	Seq   int64
	Entry json.RawMessage
}

// QueryService keeps analysts' queries. Each is visible only to the analyst who ran it.
type QueryService interface {
	// Create records a new running query by the caller, who must be able to query the workspace.
	Create(ctx context.Context, q *QueryRecord) error
	// Finish records a query's outcome — its released result or its error — together with its
	// release (nil when none was made), in one transaction. A query made by Create is updated; a
	// query run while the caller waits is recorded now, finished, if the caller may still query
	// the workspace.
	Finish(ctx context.Context, q *QueryRecord, rel *Release) error
	// Get returns one of the caller's queries (ENOTFOUND for anyone else's).
	Get(ctx context.Context, id string) (*QueryRecord, error)
	// List returns the caller's queries in a workspace, newest first, without their results.
	List(ctx context.Context, ws WorkspaceID) ([]*QueryRecord, error)
}

// TransparencyService publishes how data is used, to anyone, without sign-in.
type TransparencyService interface {
	// Transparency lists organisations, agreements that have come into force (in force, expired
	// or revoked: never drafts), and workspaces that were approved (never requests or refusals).
	Transparency(ctx context.Context) (*Transparency, error)
}

// ReviewService is the output checkers' queue: a held result is released when two different
// checkers, neither of them its requester, approve it, and refused when one rejects it.
type ReviewService interface {
	// Queue lists held results waiting for the caller's review; checkers only.
	Queue(ctx context.Context) ([]*ReviewItem, error)
	// Decide records the caller's verdict (with a comment) and applies its consequence.
	Decide(ctx context.Context, id ReleaseID, verdict, comment string) (*ReviewItem, error)
}

// DashboardService keeps planner dashboards and their results. Analyst members create them;
// every member (planners included) may read and refresh them.
type DashboardService interface {
	Create(ctx context.Context, d *Dashboard) error
	Get(ctx context.Context, ws WorkspaceID, id string) (*Dashboard, []PanelResult, error)
	List(ctx context.Context, ws WorkspaceID) ([]*Dashboard, error)
	// Record stores one refresh's results.
	Record(ctx context.Context, ws WorkspaceID, id string, results []PanelResult) error
	// History lists every refresh of every panel, newest first, without the results: when,
	// by whom, which release or why none.
	History(ctx context.Context, ws WorkspaceID, id string) ([]PanelResult, error)
}
