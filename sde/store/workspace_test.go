package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde"
)

func TestWorkspaceRequestRules(t *testing.T) {
	st, c := seeded(t)
	signedAgreement(t, st, c, "agr-ok")
	// An agreement that will have expired, one revoked, and one still awaiting signatures.
	short := agreement(c, "agr-short")
	short.ReviewDate, short.Expiry = c.Now().Add(5*day), c.Now().Add(10*day)
	if err := st.Agreements.Create(as(t, "controller-gp"), short); err != nil {
		t.Fatal(err)
	}
	signedAgreement(t, st, c, "agr-revoked")
	if _, err := st.Agreements.Revoke(as(t, "controller-gp"), "agr-revoked", "Superseded."); err != nil {
		t.Fatal(err)
	}
	if err := st.Agreements.Create(as(t, "controller-gp"), agreement(c, "agr-unsigned")); err != nil {
		t.Fatal(err)
	}
	if err := st.People.Register(as(t, "admin"), &sde.Person{ID: "dual", Name: "Analyst and controller", Organisation: "RVGPC",
		Roles: []sde.Role{sde.RoleAnalyst, sde.RoleController}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(11 * day) // agr-short has expired

	valid := func() *sde.Workspace {
		return &sde.Workspace{
			Name: "frailty", Purpose: "Frailty by area", Agreement: "agr-ok",
			Datasets: []sde.DatasetScope{{Dataset: "patients", Columns: []string{"person_id", "sex"}}, {Dataset: "ae_attendances"}},
			Members:  []sde.Membership{{User: "planner1", Role: sde.RolePlanner}},
			EndDate:  c.Now().Add(100 * day),
		}
	}
	cases := []struct {
		name string
		who  context.Context
		mod  func(w *sde.Workspace)
		want string
	}{
		{"no sign-in", context.Background(), func(w *sde.Workspace) {}, sde.EUNAUTHORIZED},
		{"by a planner", as(t, "planner1"), func(w *sde.Workspace) {}, sde.EFORBIDDEN},
		{"by a controller", as(t, "controller-gp"), func(w *sde.Workspace) {}, sde.EFORBIDDEN},
		{"by an administrator", as(t, "admin"), func(w *sde.Workspace) {}, sde.EFORBIDDEN},
		{"by an unregistered analyst", asP(&sde.Principal{User: "ghost", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}}), func(w *sde.Workspace) {}, sde.EFORBIDDEN},
		{"missing purpose", as(t, "analyst1"), func(w *sde.Workspace) { w.Purpose = "" }, sde.EINVALID},
		{"missing end date", as(t, "analyst1"), func(w *sde.Workspace) { w.EndDate = w.EndDate.AddDate(-3000, 0, 0) }, sde.EINVALID},
		{"missing datasets", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets = nil }, sde.EINVALID},
		{"bad name", as(t, "analyst1"), func(w *sde.Workspace) { w.Name = "Frailty 2026!" }, sde.EINVALID},
		{"duplicate name", as(t, "analyst1"), func(w *sde.Workspace) { w.Name = "demo" }, sde.ECONFLICT},
		{"unknown agreement", as(t, "analyst1"), func(w *sde.Workspace) { w.Agreement = "nope" }, sde.EINVALID},
		{"expired agreement", as(t, "analyst1"), func(w *sde.Workspace) { w.Agreement = "agr-short" }, sde.ECONFLICT},
		{"revoked agreement", as(t, "analyst1"), func(w *sde.Workspace) { w.Agreement = "agr-revoked" }, sde.ECONFLICT},
		{"end date in the past", as(t, "analyst1"), func(w *sde.Workspace) { w.EndDate = c.Now().Add(-day) }, sde.EINVALID},
		{"end date after the agreement's expiry", as(t, "analyst1"), func(w *sde.Workspace) { w.EndDate = c.Now().Add(400 * day) }, sde.EINVALID},
		{"unknown dataset", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets[1].Dataset = "nope" }, sde.EINVALID},
		{"dataset outside the agreement", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets[1].Dataset = "gp_events" }, sde.EINVALID},
		{"dataset twice", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets[1].Dataset = "patients" }, sde.EINVALID},
		{"unknown column", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets[0].Columns = []string{"person_id", "nhs_number"} }, sde.EINVALID},
		{"column outside the agreement", as(t, "analyst1"), func(w *sde.Workspace) { w.Datasets[0].Columns = []string{"person_id", "imd_decile"} }, sde.EINVALID},
		{"unknown member", as(t, "analyst1"), func(w *sde.Workspace) { w.Members[0].User = "nobody" }, sde.EINVALID},
		{"member without the role", as(t, "analyst1"), func(w *sde.Workspace) { w.Members[0].Role = sde.RoleAnalyst }, sde.EINVALID},
		{"member as controller", as(t, "analyst1"), func(w *sde.Workspace) { w.Members[0] = sde.Membership{User: "controller-gp", Role: sde.RoleController} }, sde.EINVALID},
		{"member twice", as(t, "analyst1"), func(w *sde.Workspace) { w.Members = append(w.Members, w.Members[0]) }, sde.EINVALID},
		{"valid, agreement awaiting signatures", as(t, "analyst2"), func(w *sde.Workspace) { w.Name, w.Agreement = "waiting", "agr-unsigned" }, ""},
		{"valid", as(t, "analyst1"), func(w *sde.Workspace) {}, ""},
		{"valid by an analyst who is also a controller", asP(&sde.Principal{User: "dual", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleAnalyst, sde.RoleController}}),
			func(w *sde.Workspace) { w.Name = "own" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := valid()
			tc.mod(w)
			before := counts(t, st)
			err := st.Workspaces.Request(tc.who, w)
			wantCode(t, tc.name, err, tc.want)
			if tc.want != "" {
				sameCounts(t, tc.name, before, counts(t, st))
				return
			}
			if w.State != sde.WorkspaceRequested || len(w.Approvals) != 2 || len(w.Members) != 2 {
				t.Fatalf("requested workspace %+v", w)
			}
			for _, a := range w.Approvals {
				if a.Decision != sde.DecisionPending {
					t.Fatalf("approval %+v", a)
				}
			}
			// Columns left out mean everything the agreement allows, written out.
			if got := w.Datasets[0]; got.Dataset != "ae_attendances" || len(got.Columns) == 0 {
				t.Fatalf("ae_attendances scope %+v", got)
			}
		})
	}
}

func TestDecideRules(t *testing.T) {
	st, c := seeded(t)
	signedAgreement(t, st, c, "agr-1")
	if err := st.People.Register(as(t, "admin"), &sde.Person{ID: "dual", Name: "Analyst and GP controller", Organisation: "RVGPC",
		Roles: []sde.Role{sde.RoleAnalyst, sde.RoleController}}); err != nil {
		t.Fatal(err)
	}
	dual := asP(&sde.Principal{User: "dual", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleAnalyst, sde.RoleController}})
	own := &sde.Workspace{Name: "own", Purpose: "p", Agreement: "agr-1", Datasets: []sde.DatasetScope{{Dataset: "patients"}}, EndDate: c.Now().Add(30 * day)}
	if err := st.Workspaces.Request(dual, own); err != nil {
		t.Fatal(err)
	}
	request(t, st, c, "ws1", "agr-1")
	adminController := asP(&sde.Principal{User: "boss", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleController, sde.RoleAdmin}})
	approve := sde.Decision{Verdict: sde.DecisionApproved}

	cases := []struct {
		name string
		who  context.Context
		ws   sde.WorkspaceID
		d    sde.Decision
		want string
	}{
		{"by the analyst", as(t, "analyst1"), "ws1", approve, sde.EFORBIDDEN},
		{"by a controller of another party's dataset", as(t, "controller-acute"), "ws1", sde.Decision{Dataset: "patients", Verdict: sde.DecisionApproved}, sde.EFORBIDDEN},
		{"by a controller of an organisation the workspace does not use", as(t, "controller-la"), "ws1", approve, sde.ENOTFOUND},
		{"by an administrator who is also the controller", adminController, "ws1", approve, sde.EFORBIDDEN},
		{"own request by a requester who is also the controller", dual, "own", approve, sde.EFORBIDDEN},
		{"unknown verdict", as(t, "controller-gp"), "ws1", sde.Decision{Verdict: "maybe"}, sde.EINVALID},
		{"refusal without a reason", as(t, "controller-gp"), "ws1", sde.Decision{Verdict: sde.DecisionRefused}, sde.EINVALID},
		{"dataset the workspace does not use", as(t, "controller-gp"), "ws1", sde.Decision{Dataset: "gp_events", Verdict: sde.DecisionApproved}, sde.EINVALID},
		{"withdrawing a pending approval", as(t, "controller-gp"), "ws1", sde.Decision{Verdict: sde.DecisionWithdrawn, Reason: "r"}, sde.ECONFLICT},
		{"unknown workspace", as(t, "controller-gp"), "nope", approve, sde.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(t, st)
			_, err := st.Workspaces.Decide(tc.who, tc.ws, tc.d)
			wantCode(t, tc.name, err, tc.want)
			sameCounts(t, tc.name, before, counts(t, st))
		})
	}

	// The GP controller approves; approving again is a conflict; the acute controller refuses.
	ws, err := st.Workspaces.Decide(as(t, "controller-gp"), "ws1", approve)
	wantCode(t, "approve", err, "")
	if ws.State != sde.WorkspaceRequested || !strings.Contains(ws.StateWhy, "RVAPC") {
		t.Fatalf("after one approval: %s (%s)", ws.State, ws.StateWhy)
	}
	_, err = st.Workspaces.Decide(as(t, "controller-gp"), "ws1", approve)
	wantCode(t, "approving twice", err, sde.ECONFLICT)
	ws, err = st.Workspaces.Decide(as(t, "controller-acute"), "ws1", sde.Decision{Verdict: sde.DecisionRefused, Reason: "A&E data not needed for this purpose."})
	wantCode(t, "refuse", err, "")
	if ws.State != sde.WorkspaceRefused || !strings.Contains(ws.StateWhy, "not needed") {
		t.Fatalf("after refusal: %s (%s)", ws.State, ws.StateWhy)
	}
	_, err = st.Workspaces.Decide(as(t, "controller-acute"), "ws1", approve)
	wantCode(t, "approving after refusing", err, sde.ECONFLICT)
	wantCode(t, "query refused workspace", st.Workspaces.CanQuery(as(t, "analyst1"), "ws1"), sde.EFORBIDDEN)

	// An approval is refused once the agreement has been revoked.
	request(t, st, c, "ws2", "agr-1")
	if _, err := st.Agreements.Revoke(as(t, "controller-acute"), "agr-1", "Ended early."); err != nil {
		t.Fatal(err)
	}
	_, err = st.Workspaces.Decide(as(t, "controller-gp"), "ws2", approve)
	wantCode(t, "approving under a revoked agreement", err, sde.ECONFLICT)
}

func TestWorkspaceLifecycle(t *testing.T) {
	t.Run("activation waits for every approval and signature", func(t *testing.T) {
		st, c := seeded(t)
		a := agreement(c, "agr-1")
		if err := st.Agreements.Create(as(t, "controller-gp"), a); err != nil {
			t.Fatal(err)
		}
		request(t, st, c, "ws", "agr-1")
		ws := approveAll(t, st, "ws")
		if ws.State != sde.WorkspaceRequested || !strings.Contains(ws.StateWhy, "sign") {
			t.Fatalf("approved but unsigned: %s (%s)", ws.State, ws.StateWhy)
		}
		wantCode(t, "query before activation", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), sde.EFORBIDDEN)
		st.Agreements.Sign(as(t, "controller-gp"), "agr-1")
		c.Advance(day)
		st.Agreements.Sign(as(t, "controller-acute"), "agr-1")
		ws, _ = st.Workspaces.Get(as(t, "analyst1"), "ws")
		if ws.State != sde.WorkspaceActive || ws.ActivateAt == nil || !ws.ActivateAt.Equal(c.Now()) {
			t.Fatalf("after the last signature: %+v", ws)
		}
		for _, m := range ws.Members {
			if m.ConfirmedAt.IsZero() || m.Lapsed {
				t.Fatalf("member %+v not confirmed at activation", m)
			}
		}
		wantCode(t, "analyst queries", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), "")
		wantCode(t, "planner views", st.Workspaces.CanView(as(t, "planner1"), "ws"), "")
		wantCode(t, "planner queries", st.Workspaces.CanQuery(as(t, "planner1"), "ws"), sde.EFORBIDDEN)
		wantCode(t, "non-member queries", st.Workspaces.CanQuery(as(t, "analyst2"), "ws"), sde.ENOTFOUND)
		wantCode(t, "controller queries", st.Workspaces.CanQuery(as(t, "controller-gp"), "ws"), sde.EFORBIDDEN)
		hist, _ := st.Workspaces.History(as(t, "controller-acute"), "ws")
		last := hist[len(hist)-1]
		if last.Kind != "state" || last.From != sde.WorkspaceRequested || last.To != sde.WorkspaceActive || last.Actor != "controller-acute" {
			t.Fatalf("last event %+v", last)
		}
	})

	// Each way a workspace is suspended, seen without any background job, then recorded once.
	suspensions := []struct {
		name   string
		cause  func(t *testing.T, st *Store, c *clock)
		reason string
		actor  sde.UserID
		auto   bool // the event is dated when the cause began, not when noticed
	}{
		{"agreement expiry", func(t *testing.T, st *Store, c *clock) { c.Advance(366 * day) }, "agreement expired", "", true},
		{"end date", func(t *testing.T, st *Store, c *clock) { c.Advance(201 * day) }, "end date", "", true},
		{"agreement revoked", func(t *testing.T, st *Store, c *clock) {
			if _, err := st.Agreements.Revoke(as(t, "controller-acute"), "agr-ws", "Data breach under investigation."); err != nil {
				t.Fatal(err)
			}
		}, "breach", "controller-acute", false},
		{"approval withdrawn", func(t *testing.T, st *Store, c *clock) {
			if _, err := st.Workspaces.Decide(as(t, "controller-gp"), "ws", sde.Decision{Dataset: "patients", Verdict: sde.DecisionWithdrawn, Reason: "Purpose drifted."}); err != nil {
				t.Fatal(err)
			}
		}, "drifted", "controller-gp", false},
	}
	for _, tc := range suspensions {
		t.Run("suspended on "+tc.name, func(t *testing.T) {
			st, c := seeded(t)
			activeWorkspace(t, st, c, "ws")
			c.Advance(day)
			causeAt := c.Now()
			tc.cause(t, st, c)
			ws, err := st.Workspaces.Get(as(t, "analyst1"), "ws")
			if err != nil {
				t.Fatal(err)
			}
			if ws.State != sde.WorkspaceSuspended || !strings.Contains(ws.StateWhy, tc.reason) {
				t.Fatalf("state %s (%s), want suspended for %q", ws.State, ws.StateWhy, tc.reason)
			}
			err = st.Workspaces.CanQuery(as(t, "analyst1"), "ws")
			wantCode(t, "query while suspended", err, sde.EFORBIDDEN)
			if !strings.Contains(sde.ErrorMessage(err), "suspended") {
				t.Fatalf("message %q", sde.ErrorMessage(err))
			}
			evs, err := st.Workspaces.ApplyLifecycle(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got *sde.WorkspaceEvent
			if tc.auto {
				// Nothing recorded the change until the lifecycle ran.
				for _, e := range evs {
					if e.Workspace == "ws" && e.Kind == "state" {
						got = e
					}
				}
				if got == nil {
					t.Fatalf("ApplyLifecycle recorded no state change: %+v", evs)
				}
				if !got.At.Before(c.Now()) {
					t.Fatalf("automatic suspension dated %v, want when its cause began", got.At)
				}
			} else {
				hist, _ := st.Workspaces.History(as(t, "analyst1"), "ws")
				got = hist[len(hist)-1]
				if !got.At.Equal(causeAt) {
					t.Fatalf("suspension dated %v, want %v", got.At, causeAt)
				}
			}
			if got.Kind != "state" || got.From != sde.WorkspaceActive || got.To != sde.WorkspaceSuspended || got.Actor != tc.actor {
				t.Fatalf("event %+v", got)
			}
			if again, _ := st.Workspaces.ApplyLifecycle(context.Background()); len(again) != 0 {
				t.Fatalf("second ApplyLifecycle recorded %d events", len(again))
			}
		})
	}

	t.Run("withdrawn approval reinstated", func(t *testing.T) {
		st, c := seeded(t)
		activeWorkspace(t, st, c, "ws")
		st.Workspaces.Decide(as(t, "controller-gp"), "ws", sde.Decision{Verdict: sde.DecisionWithdrawn, Reason: "Pause during audit."})
		ws, err := st.Workspaces.Decide(as(t, "controller-gp"), "ws", sde.Decision{Verdict: sde.DecisionApproved, Reason: "Audit done."})
		if err != nil || ws.State != sde.WorkspaceActive {
			t.Fatalf("reinstated: %v %+v", err, ws)
		}
		wantCode(t, "query after reinstatement", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), "")
	})

	t.Run("membership lapses unless re-confirmed", func(t *testing.T) {
		st, c := seeded(t)
		activeWorkspace(t, st, c, "ws")
		c.Advance(29 * day)
		wantCode(t, "before the review is due", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), "")
		c.Advance(day)
		err := st.Workspaces.CanQuery(as(t, "analyst1"), "ws")
		wantCode(t, "review due", err, sde.EFORBIDDEN)
		if !strings.Contains(sde.ErrorMessage(err), "lapsed") {
			t.Fatalf("message %q", sde.ErrorMessage(err))
		}
		ws, _ := st.Workspaces.Get(as(t, "analyst1"), "ws")
		if ws.State != sde.WorkspaceActive || !ws.Members[0].Lapsed {
			t.Fatalf("workspace %s, member %+v", ws.State, ws.Members[0])
		}
		evs, _ := st.Workspaces.ApplyLifecycle(context.Background())
		lapsed := 0
		for _, e := range evs {
			if e.Kind == "member_lapsed" && e.Workspace == "ws" {
				lapsed++
			}
		}
		if lapsed != 2 {
			t.Fatalf("lapse events %d, want 2 (analyst1, planner1): %+v", lapsed, evs)
		}
		_, err = st.Workspaces.ConfirmMember(as(t, "analyst1"), "ws", "analyst1")
		wantCode(t, "analyst confirms", err, sde.EFORBIDDEN)
		_, err = st.Workspaces.ConfirmMember(as(t, "controller-la"), "ws", "analyst1")
		wantCode(t, "controller of another organisation confirms", err, sde.ENOTFOUND)
		_, err = st.Workspaces.ConfirmMember(as(t, "controller-gp"), "ws", "analyst2")
		wantCode(t, "confirming a non-member", err, sde.ENOTFOUND)
		ws, err = st.Workspaces.ConfirmMember(as(t, "controller-gp"), "ws", "analyst1")
		wantCode(t, "controller confirms", err, "")
		// The workspace also uses the acute collaborative's data: its controller must confirm
		// too (second security review, F3).
		wantCode(t, "one of two organisations confirmed", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), sde.EFORBIDDEN)
		ws, err = st.Workspaces.ConfirmMember(as(t, "controller-acute"), "ws", "analyst1")
		wantCode(t, "second controller confirms", err, "")
		if ws.Members[0].Lapsed || !ws.Members[0].ReviewDue.Equal(c.Now().Add(30*day)) {
			t.Fatalf("confirmed member %+v", ws.Members[0])
		}
		wantCode(t, "query after confirmation", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), "")
		wantCode(t, "planner still lapsed", st.Workspaces.CanView(as(t, "planner1"), "ws"), sde.EFORBIDDEN)
	})

	t.Run("archive", func(t *testing.T) {
		st, c := seeded(t)
		activeWorkspace(t, st, c, "ws")
		_, err := st.Workspaces.Archive(as(t, "analyst2"), "ws", "")
		wantCode(t, "archive by a stranger", err, sde.ENOTFOUND)
		_, err = st.Workspaces.Archive(as(t, "planner1"), "ws", "")
		wantCode(t, "archive by a planner member", err, sde.EFORBIDDEN)
		ws, err := st.Workspaces.Archive(as(t, "analyst1"), "ws", "Project finished.")
		if err != nil || ws.State != sde.WorkspaceArchived || ws.ArchivedAt == nil {
			t.Fatalf("archive: %v %+v", err, ws)
		}
		_, err = st.Workspaces.Archive(as(t, "controller-gp"), "ws", "")
		wantCode(t, "archive twice", err, sde.ECONFLICT)
		_, err = st.Workspaces.Decide(as(t, "controller-gp"), "ws", sde.Decision{Verdict: sde.DecisionWithdrawn, Reason: "x"})
		wantCode(t, "decide after archive", err, sde.ECONFLICT)
		_, err = st.Workspaces.AddMember(as(t, "analyst1"), "ws", "analyst2", sde.RoleAnalyst)
		wantCode(t, "add member after archive", err, sde.ECONFLICT)
		wantCode(t, "query after archive", st.Workspaces.CanQuery(as(t, "analyst1"), "ws"), sde.EFORBIDDEN)
		c.Advance(400 * day) // time passing changes nothing about an archived workspace
		ws, _ = st.Workspaces.Get(as(t, "analyst1"), "ws")
		if ws.State != sde.WorkspaceArchived {
			t.Fatalf("archived workspace became %s", ws.State)
		}
	})
}

func TestMembershipAndVisibility(t *testing.T) {
	st, c := seeded(t)
	activeWorkspace(t, st, c, "ws")

	// The requester proposes a member, who may not query until a controller confirms.
	_, err := st.Workspaces.AddMember(as(t, "planner1"), "ws", "analyst2", sde.RoleAnalyst)
	wantCode(t, "planner adds a member", err, sde.EFORBIDDEN)
	_, err = st.Workspaces.AddMember(as(t, "analyst1"), "ws", "checker1", sde.RoleAnalyst)
	wantCode(t, "member without the role", err, sde.EINVALID)
	_, err = st.Workspaces.AddMember(as(t, "analyst1"), "ws", "analyst2", sde.RoleChecker)
	wantCode(t, "member as checker", err, sde.EINVALID)
	ws, err := st.Workspaces.AddMember(as(t, "analyst1"), "ws", "analyst2", sde.RoleAnalyst)
	wantCode(t, "requester adds a member", err, "")
	if m := member(ws, "analyst2"); m == nil || !m.ConfirmedAt.IsZero() {
		t.Fatalf("proposed member %+v", m)
	}
	_, err = st.Workspaces.AddMember(as(t, "analyst1"), "ws", "analyst2", sde.RoleAnalyst)
	wantCode(t, "adding twice", err, sde.ECONFLICT)
	err = st.Workspaces.CanQuery(as(t, "analyst2"), "ws")
	wantCode(t, "unconfirmed member queries", err, sde.EFORBIDDEN)
	if !strings.Contains(sde.ErrorMessage(err), "confirmed") {
		t.Fatalf("message %q", sde.ErrorMessage(err))
	}
	if _, err := st.Workspaces.ConfirmMember(as(t, "controller-acute"), "ws", "analyst2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "confirmed by one of two organisations", st.Workspaces.CanQuery(as(t, "analyst2"), "ws"), sde.EFORBIDDEN)
	if _, err := st.Workspaces.ConfirmMember(as(t, "controller-gp"), "ws", "analyst2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "confirmed member queries", st.Workspaces.CanQuery(as(t, "analyst2"), "ws"), "")

	// A controller's own addition counts as their organisation's confirmation; the other
	// organisation must still confirm (second security review, F3).
	if err := st.People.Register(as(t, "admin"), &sde.Person{ID: "planner2", Name: "P2", Organisation: "RVICB", Roles: []sde.Role{sde.RolePlanner}}); err != nil {
		t.Fatal(err)
	}
	ws, err = st.Workspaces.AddMember(as(t, "controller-gp"), "ws", "planner2", sde.RolePlanner)
	if err != nil || !member(ws, "planner2").ConfirmedAt.IsZero() {
		t.Fatalf("a member added by one of two controllers is confirmed: %v", err)
	}
	ws, err = st.Workspaces.ConfirmMember(as(t, "controller-acute"), "ws", "planner2")
	if err != nil || member(ws, "planner2").ConfirmedAt.IsZero() {
		t.Fatalf("confirmed by both organisations: %v", err)
	}

	// Removal: a member may leave; strangers may not remove.
	_, err = st.Workspaces.RemoveMember(as(t, "planner1"), "ws", "analyst2")
	wantCode(t, "member removes another", err, sde.EFORBIDDEN)
	if _, err := st.Workspaces.RemoveMember(as(t, "analyst2"), "ws", "analyst2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "removed member queries", st.Workspaces.CanQuery(as(t, "analyst2"), "ws"), sde.ENOTFOUND)

	// Who sees which workspaces: members, the requester, controllers of its datasets, checkers.
	visibleTo := func(u sde.UserID) []sde.WorkspaceID {
		l, err := st.Workspaces.List(as(t, u), sde.WorkspaceFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []sde.WorkspaceID
		for _, w := range l {
			ids = append(ids, w.ID)
		}
		return ids
	}
	for _, tc := range []struct {
		user sde.UserID
		want string
	}{
		{"analyst1", "[demo ws]"},
		{"planner1", "[demo ws]"},
		{"analyst2", "[]"},
		{"controller-gp", "[demo ws]"},
		{"controller-la", "[demo]"},
		{"checker1", "[demo ws]"},
		{"admin", "[]"},
	} {
		if got := sliceString(visibleTo(tc.user)); got != tc.want {
			t.Errorf("%s sees %s, want %s", tc.user, got, tc.want)
		}
	}
	_, err = st.Workspaces.Get(as(t, "analyst2"), "ws")
	wantCode(t, "stranger gets", err, sde.ENOTFOUND)
	_, err = st.Workspaces.History(as(t, "admin"), "ws")
	wantCode(t, "admin history", err, sde.ENOTFOUND)
	wantCode(t, "admin queries demo", st.Workspaces.CanQuery(as(t, "admin"), DevWorkspace), sde.ENOTFOUND)
	l, _ := st.Workspaces.List(as(t, "controller-gp"), sde.WorkspaceFilter{Dataset: "gp_events"})
	if sliceString(idsOf(l)) != "[demo]" {
		t.Fatalf("filter by dataset: %v", idsOf(l))
	}
	l, _ = st.Workspaces.List(as(t, "checker1"), sde.WorkspaceFilter{Agreement: "agr-ws", State: sde.WorkspaceActive})
	if sliceString(idsOf(l)) != "[ws]" {
		t.Fatalf("filter by agreement and state: %v", idsOf(l))
	}
	l, _ = st.Workspaces.List(as(t, "checker1"), sde.WorkspaceFilter{Member: "planner2"})
	if sliceString(idsOf(l)) != "[ws]" {
		t.Fatalf("filter by member: %v", idsOf(l))
	}
}

func TestReleases(t *testing.T) {
	st, c := seeded(t)
	activeWorkspace(t, st, c, "ws")
	rec := func(u sde.UserID, ws sde.WorkspaceID, status string) error {
		return st.Releases.Record(as(t, u), &sde.Release{Workspace: ws, QueryID: "q1", Status: status, Decision: []byte(`{"cells": 4}`)})
	}
	wantCode(t, "analyst records", rec("analyst1", "ws", sde.ReleaseReleased), "")
	wantCode(t, "planner records (dashboard refresh)", rec("planner1", "ws", sde.ReleaseReleased), "")
	wantCode(t, "bad status", rec("analyst1", "ws", "maybe"), sde.EINVALID)
	wantCode(t, "stranger records", rec("analyst2", "ws", sde.ReleaseReleased), sde.ENOTFOUND)
	wantCode(t, "controller records", rec("controller-gp", "ws", sde.ReleaseReleased), sde.EFORBIDDEN)
	wantCode(t, "bad decision JSON", st.Releases.Record(as(t, "analyst1"), &sde.Release{Workspace: "ws", Status: sde.ReleaseReview, Decision: []byte("{")}), sde.EINVALID)
	for _, u := range []sde.UserID{"analyst1", "controller-acute", "checker2"} {
		rs, err := st.Releases.List(as(t, u), "ws")
		if err != nil || len(rs) != 2 || rs[0].User != "analyst1" || string(rs[0].Decision) != `{"cells": 4}` {
			t.Fatalf("%s lists %+v, %v", u, rs, err)
		}
	}
	_, err := st.Releases.List(as(t, "analyst2"), "ws")
	wantCode(t, "stranger lists", err, sde.ENOTFOUND)
	c.Advance(201 * day)
	wantCode(t, "records after the end date", rec("analyst1", "ws", sde.ReleaseReleased), sde.EFORBIDDEN)
}

func idsOf(ws []*sde.Workspace) []sde.WorkspaceID {
	var out []sde.WorkspaceID
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func sliceString(ids []sde.WorkspaceID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestMembersAddedAfterRequestNeedConfirmation: first activation confirms only the members named
// in the request, not ones the requester added while approvals were pending (second review F2).
func TestMembersAddedAfterRequestNeedConfirmation(t *testing.T) {
	st, c := seeded(t)
	ws := &sde.Workspace{Name: "later", Purpose: "Test.", Agreement: DevAgreement,
		Datasets: []sde.DatasetScope{{Dataset: "patients"}}, EndDate: c.Now().Add(30 * day)}
	if err := st.Workspaces.Request(as(t, "analyst1"), ws); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	if _, err := st.Workspaces.AddMember(as(t, "analyst1"), "later", "analyst2", sde.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Workspaces.Decide(as(t, "controller-gp"), "later", sde.Decision{Dataset: "patients", Verdict: sde.DecisionApproved}); err != nil {
		t.Fatal(err)
	}
	if err := st.Workspaces.CanQuery(as(t, "analyst1"), "later"); err != nil {
		t.Errorf("the requester cannot query the approved workspace: %v", err)
	}
	if err := st.Workspaces.CanQuery(as(t, "analyst2"), "later"); code(err) != sde.EFORBIDDEN {
		t.Errorf("a member added after the request was confirmed by activation: %v", err)
	}
}

// TestDecideRefusesMembersAndLateApprovals: a controller who is a member may not decide, and
// an approval is refused once the workspace's end date or the agreement's expiry has passed.
func TestDecideRefusesMembersAndLateApprovals(t *testing.T) {
	st, c := seeded(t)
	signedAgreement(t, st, c, "agr-late")
	if err := st.People.Register(as(t, "admin"), &sde.Person{ID: "dual", Name: "Planner and GP controller", Organisation: "RVGPC",
		Roles: []sde.Role{sde.RolePlanner, sde.RoleController}}); err != nil {
		t.Fatal(err)
	}
	dual := asP(&sde.Principal{User: "dual", Organisation: "RVGPC", Roles: []sde.Role{sde.RolePlanner, sde.RoleController}})
	withDual := &sde.Workspace{Name: "with-dual", Purpose: "p", Agreement: "agr-late", Datasets: []sde.DatasetScope{{Dataset: "patients"}},
		Members: []sde.Membership{{User: "dual", Role: sde.RolePlanner}}, EndDate: c.Now().Add(30 * day)}
	if err := st.Workspaces.Request(as(t, "analyst1"), withDual); err != nil {
		t.Fatal(err)
	}
	request(t, st, c, "ends", "agr-late")
	request(t, st, c, "expires", "agr-late")
	approve := sde.Decision{Verdict: sde.DecisionApproved}
	check := func(name string, who context.Context, ws sde.WorkspaceID, wantCode, wantMsg string) {
		t.Helper()
		before := counts(t, st)
		_, err := st.Workspaces.Decide(who, ws, approve)
		if code(err) != wantCode || !strings.Contains(sde.ErrorMessage(err), wantMsg) {
			t.Errorf("%s: %v; want %s with %q", name, err, wantCode, wantMsg)
		}
		sameCounts(t, name, before, counts(t, st))
	}
	check("a member deciding", dual, "with-dual", sde.EFORBIDDEN, "Members of a workspace may not decide")
	if _, err := st.Workspaces.ConfirmMember(dual, "with-dual", "dual"); code(err) != sde.EFORBIDDEN || !strings.Contains(sde.ErrorMessage(err), "your own membership") {
		t.Errorf("confirming one's own membership: %v", err)
	}
	c.Advance(201 * day)
	check("after the end date", as(t, "controller-gp"), "ends", sde.ECONFLICT, "end date has passed")
	c.Advance(165 * day)
	check("after the agreement expired", as(t, "controller-gp"), "expires", sde.ECONFLICT, "agreement has expired")
}
