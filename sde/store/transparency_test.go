package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

func TestTransparencyPublishesGovernanceNotPeople(t *testing.T) {
	st, c := seeded(t)
	// A draft agreement and a pending request are not published.
	draft := &sde.Agreement{Title: "Draft", LawfulBasisArt6: "6(1)(e) public task", ConditionArt9: "9(2)(h) health or social care",
		PurposeCategory: sde.PurposeResearch, Purpose: "Draft.", Parties: []sde.OrgCode{"RVGPC", "RVLA"},
		Datasets:        []sde.DatasetScope{{Dataset: "patients"}, {Dataset: "social_care"}},
		EscalationRoute: "IG", ReviewDate: c.Now().Add(100 * day), Expiry: c.Now().Add(200 * day)}
	if err := st.Agreements.Create(as(t, "controller-gp"), draft); err != nil {
		t.Fatal(err)
	}
	pending := &sde.Workspace{Name: "pending", Purpose: "Pending.", Agreement: DevAgreement,
		Datasets: []sde.DatasetScope{{Dataset: "patients"}}, EndDate: c.Now().Add(30 * day)}
	if err := st.Workspaces.Request(as(t, "analyst2"), pending); err != nil {
		t.Fatal(err)
	}
	if err := st.Releases.Record(as(t, "analyst1"), &sde.Release{Workspace: DevWorkspace, QueryID: "q", Status: sde.ReleaseReleased}); err != nil {
		t.Fatal(err)
	}
	tr, err := st.Transparency.Transparency(context.Background()) // no one signed in
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Organisations) != len(DevOrganisations) || len(tr.Agreements) != 1 || tr.Agreements[0].ID != DevAgreement || tr.Agreements[0].State != sde.AgreementInForce {
		t.Errorf("agreements = %+v", tr.Agreements)
	}
	if len(tr.Workspaces) != 1 || tr.Workspaces[0].Name != "demo" || tr.Workspaces[0].ReleasedOutputs != 1 || len(tr.Workspaces[0].Datasets) == 0 {
		t.Errorf("workspaces = %+v", tr.Workspaces)
	}
	js, _ := json.Marshal(tr)
	for _, person := range []string{"analyst1", "analyst2", "planner1", "controller-", "@"} {
		if strings.Contains(string(js), person) {
			t.Errorf("transparency names a person (%s): %s", person, js)
		}
	}
}
