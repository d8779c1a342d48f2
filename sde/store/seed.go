package store

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/synth"
)

// Names of what DevSeed creates.
const (
	DevAgreement sde.AgreementID = "demo-planning"
	DevWorkspace sde.WorkspaceID = "demo"
	// DevOptOutDataset is the national data opt-out register among the synthetic datasets.
	DevOptOutDataset sde.DatasetName = "opt_outs"
)

// DevOrganisations are the fictional North Riverside ICS's organisations; the codes match the
// controller.code of the synthetic specs in sde/synth/specs.
var DevOrganisations = []sde.Organisation{
	{Code: "RVICB", Name: "North Riverside ICB (population health analytics unit)", Kind: "icb"},
	{Code: "RVGPC", Name: "North Riverside GP Collaborative (on behalf of its member practices)", Kind: "gp"},
	{Code: "RVAPC", Name: "North Riverside Acute Provider Collaborative (R9A and R9B, joint controllers)", Kind: "acute"},
	{Code: "R9C", Name: "Riverside Community and Mental Health NHS Foundation Trust", Kind: "community"},
	{Code: "RVLA", Name: "Riverside City Council Adult Social Care", Kind: "local_authority"},
	{Code: "RVVCS", Name: "Riverside VCSE Alliance", Kind: "vcse"},
	{Code: "NDOP", Name: "NHS England National Data Opt-out Service", Kind: "national"},
}

// DevPeople are the demo users of `serve --dev`; the dev OIDC issuer gives them the same roles.
var DevPeople = []sde.Person{
	{ID: "analyst1", Name: "Asha Patel (analyst)", Email: "analyst1@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}},
	{ID: "analyst2", Name: "Ben Okafor (analyst)", Email: "analyst2@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAnalyst}},
	{ID: "planner1", Name: "Carys Evans (planner)", Email: "planner1@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RolePlanner}},
	{ID: "controller-gp", Name: "GP collaborative data controller", Email: "dpo@rvgpc.example", Organisation: "RVGPC", Roles: []sde.Role{sde.RoleController}},
	{ID: "controller-acute", Name: "Acute collaborative data controller", Email: "dpo@rvapc.example", Organisation: "RVAPC", Roles: []sde.Role{sde.RoleController}},
	{ID: "controller-community", Name: "Community and MH trust data controller", Email: "dpo@r9c.example", Organisation: "R9C", Roles: []sde.Role{sde.RoleController}},
	{ID: "controller-la", Name: "Council data controller", Email: "dpo@rvla.example", Organisation: "RVLA", Roles: []sde.Role{sde.RoleController}},
	{ID: "controller-vcse", Name: "VCSE alliance data controller", Email: "dpo@rvvcs.example", Organisation: "RVVCS", Roles: []sde.Role{sde.RoleController}},
	{ID: "controller-ndop", Name: "National data opt-out controller", Email: "dpo@ndop.example", Organisation: "NDOP", Roles: []sde.Role{sde.RoleController}},
	{ID: "checker1", Name: "Output checker one", Email: "checker1@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RoleChecker}},
	{ID: "checker2", Name: "Output checker two", Email: "checker2@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RoleChecker}},
	{ID: "admin", Name: "Service administrator", Email: "admin@rvicb.example", Organisation: "RVICB", Roles: []sde.Role{sde.RoleAdmin}},
}

// DevPrincipal returns the principal of a demo user, or nil.
func DevPrincipal(user sde.UserID) *sde.Principal {
	for _, p := range DevPeople {
		if p.ID == user {
			return &sde.Principal{User: p.ID, Name: p.Name, Email: p.Email, Organisation: p.Organisation, Roles: slices.Clone(p.Roles)}
		}
	}
	return nil
}

// DevSeed makes sure the demo organisations, people, datasets (from the given catalog spec JSON
// documents, or the synthetic specs when none are given), a planning agreement signed by every
// party and an active workspace "demo" (analyst1 as analyst, planner1 as planner) exist. It acts
// through the services as the demo users, so the seed obeys every governance rule, and it only
// does what is missing, so it is safe on every start. It also re-confirms the demo memberships
// when they have lapsed, so a long-lived dev data directory keeps working.
func DevSeed(ctx context.Context, st *Store, specs ...[]byte) error {
	if len(specs) == 0 {
		for _, s := range synth.Specs() {
			specs = append(specs, s.JSON)
		}
	}
	as := func(u sde.UserID) context.Context { return sde.WithPrincipal(ctx, DevPrincipal(u)) }
	admin := as("admin")

	var parsed []*catalog.Spec
	orgs := slices.Clone(DevOrganisations)
	for _, b := range specs {
		s, err := catalog.ReadSpec(bytes.NewReader(b))
		if err != nil {
			return err
		}
		parsed = append(parsed, s)
		if !slices.ContainsFunc(orgs, func(o sde.Organisation) bool { return o.Code == s.Controller.Code }) {
			orgs = append(orgs, sde.Organisation{Code: s.Controller.Code, Name: s.Controller.Name, Kind: s.Controller.Kind})
		}
	}
	for _, o := range orgs {
		if _, err := st.Organisations.Get(admin, o.Code); sde.ErrorCode(err) == sde.ENOTFOUND {
			if err := st.Organisations.Register(admin, &o); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	for _, p := range DevPeople {
		if _, err := st.People.Get(admin, p.ID); sde.ErrorCode(err) == sde.ENOTFOUND {
			p.Roles = slices.Clone(p.Roles)
			if err := st.People.Register(admin, &p); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	var scopes []sde.DatasetScope
	var parties []sde.OrgCode
	for i, s := range parsed {
		if _, err := st.Datasets.Get(admin, s.Name); sde.ErrorCode(err) == sde.ENOTFOUND {
			if err := st.Datasets.Register(admin, &sde.Dataset{Spec: specs[i]}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		scopes = append(scopes, sde.DatasetScope{Dataset: s.Name})
		if !slices.Contains(parties, s.Controller.Code) {
			parties = append(parties, s.Controller.Code)
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	slices.Sort(parties)
	controllerOf := func(org sde.OrgCode) sde.UserID {
		for _, p := range DevPeople {
			if p.Organisation == org && slices.Contains(p.Roles, sde.RoleController) {
				return p.ID
			}
		}
		return ""
	}
	creator := controllerOf(parties[0])
	if creator == "" {
		return sde.Errorf(sde.EINVALID, "No demo controller for %s.", parties[0])
	}

	now := st.Now()
	ag, err := st.Agreements.Get(admin, DevAgreement)
	if sde.ErrorCode(err) == sde.ENOTFOUND {
		ag = &sde.Agreement{
			ID:              DevAgreement,
			Title:           "North Riverside population health planning (demo)",
			LawfulBasisArt6: "6(1)(e) public task",
			ConditionArt9:   "9(2)(h) health or social care",
			PurposeCategory: sde.PurposePlanning,
			Purpose:         "Understand the health and care needs of the North Riverside population and plan integrated services across GP, hospital, community, social care and voluntary providers.",
			Parties:         parties,
			Datasets:        scopes,
			EscalationRoute: "Raise concerns with the ICS information governance group (ig@rvicb.example); the chair of the data access committee decides within 5 working days.",
			ReviewDate:      now.AddDate(1, 0, 0),
			Expiry:          now.AddDate(3, 0, 0),
		}
		if err := st.Agreements.Create(as(creator), ag); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, org := range ag.Unsigned() {
		c := controllerOf(org)
		if c == "" {
			return sde.Errorf(sde.EINVALID, "No demo controller for %s.", org)
		}
		if ag, err = st.Agreements.Sign(as(c), DevAgreement); err != nil {
			return err
		}
	}

	// The workspace uses every dataset but the opt-out register, which the agreement covers so
	// that it can be applied at activation, but which is never analysed.
	var wsScopes []sde.DatasetScope
	for _, sc := range scopes {
		if sc.Dataset != DevOptOutDataset {
			wsScopes = append(wsScopes, sc)
		}
	}
	analyst := as("analyst1")
	ws, err := st.Workspaces.Get(analyst, DevWorkspace)
	if sde.ErrorCode(err) == sde.ENOTFOUND {
		end := now.AddDate(2, 0, 0)
		if end.After(ag.Expiry) {
			end = ag.Expiry
		}
		ws = &sde.Workspace{
			Name:      string(DevWorkspace),
			Purpose:   "Demo: explore multimorbidity, unplanned care and social-care use across the synthetic North Riverside population.",
			Agreement: DevAgreement,
			Datasets:  wsScopes,
			Members:   []sde.Membership{{User: "analyst1", Role: sde.RoleAnalyst}, {User: "planner1", Role: sde.RolePlanner}},
			EndDate:   end,
		}
		if err := st.Workspaces.Request(analyst, ws); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for _, a := range ws.Approvals {
		if a.Decision == sde.DecisionPending || a.Decision == sde.DecisionWithdrawn {
			if ws, err = st.Workspaces.Decide(as(controllerOf(a.Organisation)), DevWorkspace,
				sde.Decision{Dataset: a.Dataset, Verdict: sde.DecisionApproved, Reason: "Demo data for the dev environment."}); err != nil {
				return err
			}
		}
	}
	for _, m := range ws.Members {
		if m.Lapsed || m.ReviewDue.Before(now.Add(7*24*time.Hour)) {
			// Every organisation whose data the workspace uses confirms the membership.
			for _, org := range approvalOrgs(ws) {
				if ws, err = st.Workspaces.ConfirmMember(as(controllerOf(org)), DevWorkspace, m.User); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// approvalOrgs lists the organisations whose datasets a workspace uses.
func approvalOrgs(ws *sde.Workspace) []sde.OrgCode {
	var out []sde.OrgCode
	for _, a := range ws.Approvals {
		if !slices.Contains(out, a.Organisation) {
			out = append(out, a.Organisation)
		}
	}
	return out
}
