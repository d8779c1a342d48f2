package store

import (
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

// TestAccessRefusals: each way the one "may use this workspace now" rule refuses, and the one
// way it allows, on a workspace built in memory (no store needed: access is a pure function).
func TestAccessRefusals(t *testing.T) {
	now := t0.Add(10 * day)
	confirmed := sde.Membership{User: "ann", Role: sde.RoleAnalyst, ConfirmedAt: now.Add(-day), ReviewDue: now.Add(29 * day)}
	inForce := func() *sde.Agreement {
		return &sde.Agreement{Parties: []sde.OrgCode{"GP"}, Signatures: []sde.Signature{{Organisation: "GP"}}, Expiry: now.Add(100 * day)}
	}
	rec := func(edit func(ws *sde.Workspace, ag *sde.Agreement)) *wsRecord {
		ws := &sde.Workspace{State: sde.WorkspaceActive, Members: []sde.Membership{confirmed}}
		ag := inForce()
		if edit != nil {
			edit(ws, ag)
		}
		return &wsRecord{ws: ws, ag: ag}
	}
	ann := &sde.Principal{User: "ann", Roles: []sde.Role{sde.RoleAnalyst}}
	cases := []struct {
		name string
		p    *sde.Principal
		rec  *wsRecord
		role sde.Role
		want string // fragment of the refusal; "" to allow
	}{
		{"a confirmed analyst member", ann, rec(nil), sde.RoleAnalyst, ""},
		{"an administrator who is also a member", &sde.Principal{User: "ann", Roles: []sde.Role{sde.RoleAnalyst, sde.RoleAdmin}}, rec(nil), sde.RoleAnalyst, "Administrators may not use workspace data"},
		{"not a member", &sde.Principal{User: "bob", Roles: []sde.Role{sde.RoleAnalyst}}, rec(nil), sde.RoleAnalyst, "not a member"},
		{"a planner member acting as analyst", ann, rec(func(ws *sde.Workspace, _ *sde.Agreement) { ws.Members[0].Role = sde.RolePlanner }), sde.RoleAnalyst, "does not allow this"},
		{"a member whose token lost the role", &sde.Principal{User: "ann", Roles: []sde.Role{sde.RolePlanner}}, rec(nil), sde.RoleAnalyst, "You do not hold the analyst role"},
		{"a suspended workspace", ann, rec(func(ws *sde.Workspace, _ *sde.Agreement) { ws.State = sde.WorkspaceSuspended }), sde.RoleAnalyst, "The workspace is suspended"},
		{"an expired agreement not yet swept", ann, rec(func(_ *sde.Workspace, ag *sde.Agreement) { ag.Expiry = now }), sde.RoleAnalyst, "agreement is not in force"},
		{"a revoked agreement not yet swept", ann, rec(func(_ *sde.Workspace, ag *sde.Agreement) { ag.RevokedAt = &now }), sde.RoleAnalyst, "agreement is not in force"},
		{"an unconfirmed member", ann, rec(func(ws *sde.Workspace, _ *sde.Agreement) { ws.Members[0].ConfirmedAt = time.Time{} }), sde.RoleAnalyst, "not been confirmed"},
		{"a lapsed member", ann, rec(func(ws *sde.Workspace, _ *sde.Agreement) { ws.Members[0].Lapsed = true }), sde.RoleAnalyst, "lapsed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := access(c.p, c.rec, now, c.role)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if code(err) != sde.EFORBIDDEN || !strings.Contains(sde.ErrorMessage(err), c.want) {
				t.Errorf("got %v; want forbidden with %q", err, c.want)
			}
		})
	}
}
