package store

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

func TestDashboards(t *testing.T) {
	st, _ := seeded(t)
	d := &sde.Dashboard{Workspace: DevWorkspace, Title: "Prevalence", Panels: []sde.Panel{
		{Title: "By decile", SQL: "SELECT imd_decile, count(*) AS n FROM patients GROUP BY imd_decile", Chart: "bar", X: "imd_decile", Y: "n"},
	}}
	// Planners read and refresh; only analyst members create.
	for _, u := range []sde.UserID{"planner1", "controller-gp", "checker1", "analyst2", "admin"} {
		if err := st.Dashboards.Create(as(t, u), &sde.Dashboard{Workspace: DevWorkspace, Title: d.Title, Panels: d.Panels}); err == nil {
			t.Errorf("%s created a dashboard", u)
		}
	}
	bad := []sde.Dashboard{
		{Workspace: DevWorkspace, Panels: d.Panels},
		{Workspace: DevWorkspace, Title: "x"},
		{Workspace: DevWorkspace, Title: "x", Panels: []sde.Panel{{Title: "p", SQL: "SELECT 1", Chart: "pie"}}},
		{Workspace: DevWorkspace, Title: "x", Panels: []sde.Panel{{Title: "p", SQL: "SELECT 1", Chart: "bar"}}},
		{Workspace: DevWorkspace, Title: "x", Panels: []sde.Panel{{Title: " ", SQL: "SELECT 1", Chart: "table"}}},
	}
	for i, b := range bad {
		if err := st.Dashboards.Create(as(t, "analyst1"), &b); code(err) != sde.EINVALID {
			t.Errorf("bad dashboard %d: %v", i, err)
		}
	}
	huge := sde.Dashboard{Workspace: DevWorkspace, Title: "x", Panels: []sde.Panel{{Title: "p", SQL: strings.Repeat("x", maxSQL+1), Chart: "table"}}}
	if err := st.Dashboards.Create(as(t, "analyst1"), &huge); code(err) != sde.ETOOLARGE {
		t.Errorf("a panel over the SQL limit: %v", err)
	}
	if err := st.Dashboards.Create(as(t, "analyst1"), d); err != nil {
		t.Fatal(err)
	}
	planner := as(t, "planner1")
	if err := st.Dashboards.Record(planner, DevWorkspace, d.ID, []sde.PanelResult{{Panel: 0, Release: "rel-1", Result: json.RawMessage(`{"rows":[[1,10]]}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Dashboards.Record(planner, DevWorkspace, d.ID, []sde.PanelResult{{Panel: 0, Release: "rel-2", Result: json.RawMessage(`{"rows":[[1,15]]}`)}}); err != nil {
		t.Fatal(err)
	}
	got, results, err := st.Dashboards.Get(planner, DevWorkspace, d.ID)
	if err != nil || got.Title != "Prevalence" || len(results) != 1 || results[0].Release != "rel-2" || results[0].RefreshedBy != "planner1" {
		t.Fatalf("get = %+v %+v %v", got, results, err)
	}
	for _, u := range []sde.UserID{"analyst2", "admin", "controller-ndop"} {
		if _, _, err := st.Dashboards.Get(as(t, u), DevWorkspace, d.ID); err == nil {
			t.Errorf("%s read the dashboard", u)
		}
		if err := st.Dashboards.Record(as(t, u), DevWorkspace, d.ID, nil); err == nil {
			t.Errorf("%s refreshed the dashboard", u)
		}
	}
	if list, err := st.Dashboards.List(planner, DevWorkspace); err != nil || len(list) != 1 {
		t.Errorf("list = %v, %v", list, err)
	}
}
