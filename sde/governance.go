package sde

import (
	"context"
	"encoding/json"
	"time"
)

// Role is what a person may do. A person may hold several; roles come from the identity
// provider's token claims (see package auth).
type Role string

const (
	RoleAnalyst    Role = "analyst"    // requests workspaces, queries them when a member
	RolePlanner    Role = "planner"    // views dashboards of workspaces they are a member of
	RoleController Role = "controller" // acts for their organisation's datasets and agreements
	RoleChecker    Role = "checker"    // reviews flagged outputs
	RoleAdmin      Role = "admin"      // runs the service; registers organisations and datasets; sees no data
)

// Roles lists every role, for validation and the authorisation matrix.
var Roles = []Role{RoleAnalyst, RolePlanner, RoleController, RoleChecker, RoleAdmin}

// Principal is an authenticated caller.
type Principal struct {
	User         UserID  `json:"user"`
	Name         string  `json:"name,omitempty"`
	Email        string  `json:"email,omitempty"`
	Organisation OrgCode `json:"organisation"`
	Roles        []Role  `json:"roles"`
}

// Has reports whether the principal holds role r.
func (p *Principal) Has(r Role) bool {
	if p == nil {
		return false
	}
	for _, x := range p.Roles {
		if x == r {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns a context carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the authenticated caller, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Purpose categories of a data-sharing agreement. The category decides whether the national data
// opt-out applies: it does for planning and research, not for direct care.
const (
	PurposeDirectCare = "direct_care"
	PurposePlanning   = "planning"
	PurposeResearch   = "research"
)

// OptOutApplies reports whether people in the national data opt-out register are removed for a
// purpose category.
func OptOutApplies(purpose string) bool { return purpose != PurposeDirectCare }

// AgreementID, ReleaseID identify governance records.
type (
	AgreementID string
	ReleaseID   string
)

// Agreement is a data-sharing agreement between organisations.
type Agreement struct {
	ID              AgreementID     `json:"id"`
	Title           string          `json:"title"`
	LawfulBasisArt6 string          `json:"lawful_basis_art6"` // e.g. "6(1)(e) public task"
	ConditionArt9   string          `json:"condition_art9"`    // e.g. "9(2)(h) health or social care"
	PurposeCategory string          `json:"purpose_category"`  // direct_care | planning | research
	Purpose         string          `json:"purpose"`
	Parties         []OrgCode       `json:"parties"`
	Datasets        []DatasetScope  `json:"datasets"`
	EscalationRoute string          `json:"escalation_route"`
	ReviewDate      time.Time       `json:"review_date"`
	Expiry          time.Time       `json:"expiry"`
	Policy          json.RawMessage `json:"policy,omitempty"` // disclosure-policy overrides, stricter only
	CreatedBy       UserID          `json:"created_by"`
	CreatedAt       time.Time       `json:"created_at"`
	Signatures      []Signature     `json:"signatures"`
	RevokedAt       *time.Time      `json:"revoked_at,omitempty"`
	RevokedBy       UserID          `json:"revoked_by,omitempty"`
	RevokeReason    string          `json:"revoke_reason,omitempty"`
	State           string          `json:"state,omitempty"` // derived on read: see StateAt
}

// DatasetScope is a dataset and the columns of it an agreement or workspace covers.
type DatasetScope struct {
	Dataset DatasetName `json:"dataset"`
	Columns []string    `json:"columns"` // empty in an agreement means all columns
}

// Signature records a controller signing for their organisation.
type Signature struct {
	Organisation OrgCode   `json:"organisation"`
	User         UserID    `json:"user"`
	At           time.Time `json:"at"`
}

// InForce reports whether every party has signed and the agreement has neither expired nor been
// revoked at time now.
func (a *Agreement) InForce(now time.Time) bool {
	if a.RevokedAt != nil || !now.Before(a.Expiry) {
		return false
	}
	signed := map[OrgCode]bool{}
	for _, s := range a.Signatures {
		signed[s.Organisation] = true
	}
	for _, p := range a.Parties {
		if !signed[p] {
			return false
		}
	}
	return len(a.Parties) > 0
}

// Workspace states.
const (
	WorkspaceRequested = "requested" // waiting for controllers' approvals
	WorkspaceRefused   = "refused"   // a controller refused
	WorkspaceActive    = "active"
	WorkspaceSuspended = "suspended" // agreement expired or revoked, end date passed, or approval withdrawn
	WorkspaceArchived  = "archived"
)

// Workspace is an approved place to analyse a set of datasets under one agreement.
type Workspace struct {
	ID         WorkspaceID    `json:"id"`
	Name       string         `json:"name"`
	Purpose    string         `json:"purpose"`
	Agreement  AgreementID    `json:"agreement"`
	Datasets   []DatasetScope `json:"datasets"`
	Members    []Membership   `json:"members"`
	EndDate    time.Time      `json:"end_date"`
	State      string         `json:"state"`
	StateWhy   string         `json:"state_reason,omitempty"`
	Approvals  []Approval     `json:"approvals"`
	CreatedBy  UserID         `json:"created_by"`
	CreatedAt  time.Time      `json:"created_at"`
	ActivateAt *time.Time     `json:"activated_at,omitempty"`
	ArchivedAt *time.Time     `json:"archived_at,omitempty"`
}

// Membership is a person's access to a workspace; it lapses unless a controller re-confirms it
// every review period.
type Membership struct {
	User        UserID    `json:"user"`
	Role        Role      `json:"role"` // analyst or planner
	AddedAt     time.Time `json:"added_at"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	ConfirmedBy UserID    `json:"confirmed_by,omitempty"`
	// ReviewDue is when the membership lapses unless re-confirmed; Lapsed is derived on read.
	ReviewDue time.Time `json:"review_due"`
	Lapsed    bool      `json:"lapsed"`
}

// Approval is one controller's decision on a workspace's use of one of their datasets.
type Approval struct {
	Dataset      DatasetName `json:"dataset"`
	Organisation OrgCode     `json:"organisation"`
	Decision     string      `json:"decision"` // pending | approved | refused | withdrawn
	Reason       string      `json:"reason,omitempty"`
	By           UserID      `json:"by,omitempty"`
	At           *time.Time  `json:"at,omitempty"`
}

// Agreement states, derived from signatures, expiry and revocation at the time of reading.
const (
	AgreementAwaitingSignatures = "awaiting_signatures"
	AgreementInForce            = "in_force"
	AgreementExpired            = "expired"
	AgreementRevoked            = "revoked"
)

// StateAt returns the agreement's state at time now.
func (a *Agreement) StateAt(now time.Time) string {
	switch {
	case a.RevokedAt != nil:
		return AgreementRevoked
	case !now.Before(a.Expiry):
		return AgreementExpired
	case a.InForce(now):
		return AgreementInForce
	}
	return AgreementAwaitingSignatures
}

// Unsigned lists the parties that have not signed yet.
func (a *Agreement) Unsigned() []OrgCode {
	signed := map[OrgCode]bool{}
	for _, s := range a.Signatures {
		signed[s.Organisation] = true
	}
	var out []OrgCode
	for _, p := range a.Parties {
		if !signed[p] {
			out = append(out, p)
		}
	}
	return out
}

// Organisation is a body that controls data or employs the people who use it.
type Organisation struct {
	Code      OrgCode   `json:"code"` // e.g. "RVGPC"; matches the controller.code of dataset specs
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // icb, gp, acute, community, mental_health, local_authority, vcse, national
	CreatedAt time.Time `json:"created_at"`
}

// Person is someone who may sign in. Their roles for a request come from the identity provider's
// token (Principal); the stored roles say which workspace roles they may be given.
type Person struct {
	ID           UserID    `json:"id"`
	Name         string    `json:"name"`
	Email        string    `json:"email,omitempty"`
	Organisation OrgCode   `json:"organisation"`
	Roles        []Role    `json:"roles"`
	CreatedAt    time.Time `json:"created_at"`
}

// Dataset is a catalogue entry: a dataset an administrator registered, its controlling organisation
// and the columns a workspace may ask for (the stored columns: person_id, generalised outputs, no
// dropped identifiers).
type Dataset struct {
	Name         DatasetName     `json:"name"`
	Title        string          `json:"title"`
	Description  string          `json:"description,omitempty"`
	Controller   OrgCode         `json:"controller"`
	Columns      []string        `json:"columns"`
	Spec         json.RawMessage `json:"spec"` // the sde/catalog spec it was registered with
	RegisteredBy UserID          `json:"registered_by"`
	RegisteredAt time.Time       `json:"registered_at"`
}

// Approval decisions.
const (
	DecisionPending   = "pending"
	DecisionApproved  = "approved"
	DecisionRefused   = "refused"
	DecisionWithdrawn = "withdrawn"
)

// Decision is a controller's verdict on a workspace's use of their datasets.
type Decision struct {
	// Dataset is the dataset decided on; empty means every dataset of the workspace that the
	// caller's organisation controls.
	Dataset DatasetName `json:"dataset,omitempty"`
	Verdict string      `json:"verdict"` // approved | refused | withdrawn
	Reason  string      `json:"reason"`  // required to refuse or withdraw
}

// WorkspaceFilter narrows a workspace listing; zero fields match everything the caller may see.
type WorkspaceFilter struct {
	State     string      `json:"state,omitempty"`
	Agreement AgreementID `json:"agreement,omitempty"`
	Dataset   DatasetName `json:"dataset,omitempty"`
	Member    UserID      `json:"member,omitempty"`
}

// WorkspaceEvent is one entry of a workspace's history: a request, a decision, a membership
// change or a state transition with its reason.
type WorkspaceEvent struct {
	Seq       int64       `json:"seq"`
	Workspace WorkspaceID `json:"workspace"`
	At        time.Time   `json:"at"`
	Kind      string      `json:"kind"`              // requested, decision, state, member_added, member_confirmed, member_removed, member_lapsed, archived
	Actor     UserID      `json:"actor,omitempty"`   // empty for automatic transitions
	Subject   string      `json:"subject,omitempty"` // the dataset or member concerned
	From      string      `json:"from,omitempty"`
	To        string      `json:"to,omitempty"`
	Reason    string      `json:"reason,omitempty"`
}

// Release statuses.
const (
	ReleaseReleased = "released" // cells went to the requester
	ReleaseReview   = "review"   // held for two output checkers
	ReleaseRefused  = "refused"  // nothing released
)

// Release records one result that passed (or failed) disclosure control in a workspace.
type Release struct {
	ID        ReleaseID       `json:"id"`
	Workspace WorkspaceID     `json:"workspace"`
	QueryID   string          `json:"query_id,omitempty"`
	User      UserID          `json:"user"`
	Status    string          `json:"status"`
	Decision  json.RawMessage `json:"decision,omitempty"` // the machine-readable disclosure decision record
	CreatedAt time.Time       `json:"created_at"`
	// Ledger is the differencing-ledger entry (fingerprint and true person counts) recorded with
	// the release in one transaction; it is never sent to anyone.
	Ledger json.RawMessage `json:"-"`
	// LedgerKey indexes the entry: releases are compared only with those of the same key.
	LedgerKey string `json:"-"`
	// Held is a result waiting for output checkers (status review); only checkers see it until
	// it is approved, and then the requester.
	Held json.RawMessage `json:"-"`
}

// Review verdicts.
const (
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// ReviewItem is a held result in the output checkers' queue.
type ReviewItem struct {
	Release   ReleaseID       `json:"release"`
	Workspace WorkspaceID     `json:"workspace"`
	QueryID   string          `json:"query_id"`
	Requester UserID          `json:"requester"`
	Status    string          `json:"status"`
	Decision  json.RawMessage `json:"decision"`
	Result    json.RawMessage `json:"result"` // the held result, as the requester will get it
	Reviews   []Review        `json:"reviews"`
	CreatedAt time.Time       `json:"created_at"`
}

// Review is one checker's verdict.
type Review struct {
	Checker UserID    `json:"checker"`
	Verdict string    `json:"verdict"`
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// Query states.
const (
	QueryRunning = "running"
	QueryDone    = "done"
	QueryFailed  = "failed"
)

// QueryRecord is an analyst's query and, once done, what was released from it. Only the analyst
// who ran it sees it: the SQL of others is never shown.
type QueryRecord struct {
	ID         string          `json:"query_id"`
	Workspace  WorkspaceID     `json:"workspace"`
	User       UserID          `json:"user"`
	SQL        string          `json:"sql"`
	State      string          `json:"state"`
	Release    ReleaseID       `json:"release,omitempty"`
	Status     string          `json:"status,omitempty"` // the release's status now: released, review or refused
	Result     json.RawMessage `json:"result,omitempty"` // the released result, as the API returns it
	Error      *QueryError     `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// QueryError is a failed query's user-safe error.
type QueryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Transparency is what the public may see of how data is used: organisations, agreements,
// workspaces and how many outputs left each — no data, and no names of people.
type Transparency struct {
	GeneratedAt   time.Time         `json:"generated_at"`
	Organisations []Organisation    `json:"organisations"`
	Agreements    []PublicAgreement `json:"agreements"`
	Workspaces    []PublicWorkspace `json:"workspaces"`
}

// PublicAgreement is an agreement as published: everything but who signed it.
type PublicAgreement struct {
	ID              AgreementID   `json:"id"`
	Title           string        `json:"title"`
	LawfulBasisArt6 string        `json:"lawful_basis_art6"`
	ConditionArt9   string        `json:"condition_art9"`
	PurposeCategory string        `json:"purpose_category"`
	Purpose         string        `json:"purpose"`
	Parties         []OrgCode     `json:"parties"`
	Datasets        []DatasetName `json:"datasets"`
	ReviewDate      time.Time     `json:"review_date"`
	Expiry          time.Time     `json:"expiry"`
	State           string        `json:"state"`
}

// PublicWorkspace is an approved workspace as published: its purpose, the datasets it uses and
// how many outputs were released from it; never its members.
type PublicWorkspace struct {
	Name            string        `json:"name"`
	Purpose         string        `json:"purpose"`
	Agreement       AgreementID   `json:"agreement"`
	Datasets        []DatasetName `json:"datasets"`
	State           string        `json:"state"`
	EndDate         time.Time     `json:"end_date"`
	ReleasedOutputs int           `json:"released_outputs"`
}

// Chart kinds of a dashboard panel.
var ChartKinds = []string{"bar", "line", "table"}

// Dashboard is a named set of fixed queries in a workspace, each drawn as a chart, for planners
// who do not write SQL. Its queries were accepted when an analyst created it; every refresh runs
// them again through disclosure control.
type Dashboard struct {
	ID          string      `json:"id"`
	Workspace   WorkspaceID `json:"workspace"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Panels      []Panel     `json:"panels"`
	CreatedBy   UserID      `json:"created_by"`
	CreatedAt   time.Time   `json:"created_at"`
}

// Panel is one chart of a dashboard.
type Panel struct {
	Title string `json:"title"`
	SQL   string `json:"sql"`
	Chart string `json:"chart"`           // bar | line | table
	X     string `json:"x,omitempty"`     // the dimension on the x axis (bar, line)
	Y     string `json:"y,omitempty"`     // the measure drawn (bar, line)
	Notes string `json:"notes,omitempty"` // what the panel shows, for the reader
}

// PanelResult is one refresh of one panel: the released result (suppressed values null, so
// charts show gaps), or why there is none.
type PanelResult struct {
	Panel       int             `json:"panel"`
	Release     ReleaseID       `json:"release,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       *QueryError     `json:"error,omitempty"`
	RefreshedBy UserID          `json:"refreshed_by"`
	RefreshedAt time.Time       `json:"refreshed_at"`
}

// DatasetUsage is what a dataset's controller sees of its use: every workspace that asked for it,
// with the controller's decision and each member's queries and released outputs there.
type DatasetUsage struct {
	Dataset    DatasetName      `json:"dataset"`
	Workspaces []WorkspaceUsage `json:"workspaces"`
}

// WorkspaceUsage is one workspace's use of a dataset. Queries and releases count everything in
// the workspace (a query may read several of its datasets).
type WorkspaceUsage struct {
	Workspace WorkspaceID `json:"workspace"`
	Name      string      `json:"name"`
	State     string      `json:"state"`
	Approval  string      `json:"approval"` // the controller's decision: pending, approved, refused, withdrawn
	Queries   int         `json:"queries"`
	Releases  int         `json:"releases"`
	Users     []UserUsage `json:"users"`
}

// UserUsage is one person's queries and released outputs in a workspace.
type UserUsage struct {
	User     UserID `json:"user"`
	Queries  int    `json:"queries"`
	Releases int    `json:"releases"`
}
