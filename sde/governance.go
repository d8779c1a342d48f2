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
}

// Membership is a person's access to a workspace; it lapses unless a controller re-confirms it
// every review period.
type Membership struct {
	User        UserID    `json:"user"`
	Role        Role      `json:"role"` // analyst or planner
	AddedAt     time.Time `json:"added_at"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	ConfirmedBy UserID    `json:"confirmed_by,omitempty"`
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
