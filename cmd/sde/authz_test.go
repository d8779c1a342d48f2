//go:build duckdb_arrow

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opensde/sde/sde/auth"
	"github.com/opensde/sde/sde/httpapi"
)

// TestAuthorisationMatrix asks every endpoint as every demo role, anonymously, and as analyst2 —
// a member of another workspace — and checks exactly who may do what. "Allowed" means the
// request was not refused for who sent it (it may still fail as bad input or a conflict);
// "denied" means 403, or 404 where the target's existence is not disclosed; anonymous callers
// get 401 on everything but the public routes.
func TestAuthorisationMatrix(t *testing.T) {
	m, _ := startDev(t, t.TempDir())
	users := append([]string{""}, auth.DemoUserIDs()...)
	clients := map[string]*client{}
	for _, u := range users {
		clients[u] = newClient(t, m, u)
	}
	as := func(u string) *client { return clients[u] }
	must := func(st int, body map[string]any, what string) {
		t.Helper()
		if st >= 400 {
			t.Fatalf("setup %s: %d %v", what, st, body)
		}
	}
	future := func(years int) string { return time.Now().AddDate(years, 0, 0).UTC().Format(time.RFC3339) }
	agreement := func(title string) map[string]any {
		return map[string]any{
			"title": title, "lawful_basis_art6": "6(1)(e) public task", "condition_art9": "9(2)(h) health or social care",
			"purpose_category": "planning", "purpose": "Authorisation test.", "parties": []string{"RVGPC", "RVLA"},
			"datasets":         []map[string]any{{"dataset": "patients"}, {"dataset": "social_care"}},
			"escalation_route": "IG group", "review_date": future(1), "expiry": future(2),
		}
	}

	// Fixtures, made through the API by the users who may make them.
	st, body := as("controller-gp").do("POST", "/api/v1/agreements", agreement("to sign"), "")
	must(st, body, "agreement to sign")
	agSign := body["id"].(string)
	st, body = as("controller-gp").do("POST", "/api/v1/agreements", agreement("to revoke"), "")
	must(st, body, "agreement to revoke")
	agRevoke := body["id"].(string)
	workspace := func(name string) map[string]any {
		return map[string]any{"id": name, "name": name, "purpose": "Authorisation test.", "agreement": "demo-planning",
			"datasets": []map[string]any{{"dataset": "patients"}}, "end_date": future(1)}
	}
	must2 := func(st int, body map[string]any) { must(st, body, "workspace") }
	must2(as("analyst1").do("POST", "/api/v1/workspaces", workspace("mut"), ""))
	must2(as("controller-gp").do("POST", "/api/v1/workspaces/mut/decisions", map[string]any{"dataset": "patients", "verdict": "approved"}, ""))
	must2(as("analyst2").do("POST", "/api/v1/workspaces", workspace("other"), ""))
	st, body = as("controller-gp").do("POST", "/api/v1/datasets/patients/versions?format=csv", []byte{}, "")
	must(st, body, "ingest job")
	job := body["id"].(string)

	st, body = as("analyst1").do("POST", "/api/v1/workspaces/demo/queries", map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex"}, "")
	must(st, body, "query")
	queryID := body["query_id"].(string)
	st, body = as("analyst1").do("GET", "/api/v1/workspaces/demo/dashboards", nil, "")
	must(st, body, "dashboards")
	dashID := body["dashboards"].([]any)[0].(map[string]any)["id"].(string)

	spec := func(name string) map[string]any {
		return map[string]any{"spec": map[string]any{
			"name": name, "title": "Test", "controller": map[string]any{"code": "RVGPC", "name": "GP", "kind": "gp"},
			"columns": []map[string]any{{"name": "n", "type": "INTEGER"}}}}
	}
	n := 0
	uniq := func(prefix string) string { n++; return fmt.Sprintf("%s%d", prefix, n) }

	all := users[1:]
	controllers := []string{"controller-gp", "controller-acute", "controller-community", "controller-la", "controller-vcse", "controller-ndop"}
	// The demo workspace uses every synthetic dataset but the opt-out register, so NDOP's
	// controller has no business with it.
	demoViewers := append([]string{"analyst1", "planner1", "checker1", "checker2"}, slices.DeleteFunc(slices.Clone(controllers), func(c string) bool { return c == "controller-ndop" })...)
	type cell struct {
		method, path string
		body         func(user string) any
		ctype        string
		allowed      []string
		before       func() // runs before each user's attempt
	}
	cells := []cell{
		{method: "GET", path: "/healthz", allowed: users},
		{method: "GET", path: "/api/v1/openapi.yaml", allowed: users},
		{method: "GET", path: "/api/v1/transparency", allowed: users},
		{method: "GET", path: "/transparency", allowed: users},
		// The workbench's page and assets hold no data: anyone may load them (the API they call
		// decides what each person sees).
		{method: "GET", path: "/", allowed: users},
		{method: "GET", path: "/static/app.js", allowed: users},
		{method: "GET", path: "/api/v1/me", allowed: all},
		{method: "GET", path: "/api/v1/organisations", allowed: all},
		{method: "POST", path: "/api/v1/organisations", allowed: []string{"admin"},
			body: func(string) any {
				return map[string]any{"code": uniq("TST"), "name": "Test organisation", "kind": "vcse"}
			}},
		{method: "GET", path: "/api/v1/people", allowed: all},
		{method: "POST", path: "/api/v1/people", allowed: []string{"admin"},
			body: func(string) any {
				return map[string]any{"id": uniq("person-"), "name": "Test", "organisation": "RVICB", "roles": []string{"analyst"}}
			}},
		{method: "GET", path: "/api/v1/datasets", allowed: all},
		{method: "POST", path: "/api/v1/datasets", allowed: []string{"admin"}, body: func(string) any { return spec(uniq("test_ds_")) }},
		{method: "GET", path: "/api/v1/datasets/patients", allowed: all},
		{method: "GET", path: "/api/v1/datasets/patients/usage", allowed: []string{"controller-gp", "admin"}},
		{method: "POST", path: "/api/v1/datasets/patients/versions?format=csv&wait=true", allowed: []string{"controller-gp"},
			body: func(string) any { return []byte{} }},
		{method: "GET", path: "/api/v1/ingests/" + job, allowed: []string{"controller-gp"}},
		{method: "GET", path: "/api/v1/agreements", allowed: all},
		{method: "POST", path: "/api/v1/agreements", allowed: []string{"controller-gp", "controller-la"},
			body: func(string) any { return agreement(uniq("created ")) }},
		{method: "GET", path: "/api/v1/agreements/demo-planning", allowed: all},
		{method: "POST", path: "/api/v1/agreements/" + agSign + "/sign", allowed: []string{"controller-gp", "controller-la"}},
		{method: "POST", path: "/api/v1/agreements/" + agRevoke + "/revoke", allowed: []string{"controller-gp", "controller-la"},
			body: func(string) any { return map[string]any{"reason": "Authorisation test."} }},
		{method: "GET", path: "/api/v1/workspaces", allowed: all},
		{method: "POST", path: "/api/v1/workspaces", allowed: []string{"analyst1", "analyst2"},
			body: func(string) any { return workspace(uniq("ws-")) }},
		{method: "GET", path: "/api/v1/workspaces/demo", allowed: demoViewers},
		{method: "GET", path: "/api/v1/workspaces/demo/history", allowed: demoViewers},
		{method: "POST", path: "/api/v1/workspaces/mut/decisions", allowed: []string{"controller-gp"},
			body: func(string) any { return map[string]any{"dataset": "patients", "verdict": "approved"} }},
		{method: "POST", path: "/api/v1/workspaces/mut/members", allowed: []string{"analyst1", "controller-gp"},
			body: func(string) any { return map[string]any{"user": "planner1", "role": "planner"} }},
		{method: "POST", path: "/api/v1/workspaces/mut/members/analyst1/confirm", allowed: []string{"controller-gp"}},
		{method: "DELETE", path: "/api/v1/workspaces/mut/members/planner1", allowed: []string{"analyst1", "controller-gp", "planner1"},
			before: func() {
				as("controller-gp").do("POST", "/api/v1/workspaces/mut/members", map[string]any{"user": "planner1", "role": "planner"}, "")
			}},
		{method: "GET", path: "/api/v1/workspaces/demo/tables", allowed: []string{"analyst1", "planner1"}},
		{method: "POST", path: "/api/v1/workspaces/demo/queries", allowed: []string{"analyst1"},
			body: func(string) any { return map[string]any{"sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex"} }},
		{method: "GET", path: "/api/v1/workspaces/demo/queries", allowed: demoViewers},
		{method: "GET", path: "/api/v1/workspaces/demo/queries/" + queryID, allowed: []string{"analyst1"}},
		{method: "GET", path: "/api/v1/workspaces/demo/dashboards", allowed: []string{"analyst1", "planner1"}},
		{method: "GET", path: "/api/v1/workspaces/demo/dashboards/" + dashID, allowed: []string{"analyst1", "planner1"}},
		{method: "POST", path: "/api/v1/workspaces/demo/dashboards/" + dashID + "/refresh", allowed: []string{"analyst1", "planner1"}},
		{method: "GET", path: "/api/v1/workspaces/demo/dashboards/" + dashID + "/panels/0", allowed: []string{"analyst1", "planner1"}},
		{method: "GET", path: "/api/v1/workspaces/demo/dashboards/" + dashID + "/history", allowed: []string{"analyst1", "planner1"}},
		{method: "POST", path: "/api/v1/workspaces/demo/dashboards", allowed: []string{"analyst1"},
			body: func(string) any {
				return map[string]any{"title": uniq("d"), "panels": []map[string]any{{"title": "p", "sql": "SELECT sex, count(*) AS n FROM patients GROUP BY sex", "chart": "table"}}}
			}},
		{method: "GET", path: "/api/v1/reviews", allowed: []string{"checker1", "checker2"}},
		{method: "POST", path: "/api/v1/reviews/no-such-release", allowed: []string{},
			body: func(string) any { return map[string]any{"verdict": "approved", "comment": "x"} }},
		{method: "GET", path: "/api/v1/audit", allowed: []string{"admin"}},
		// Last: archiving ends the fixture workspace.
		{method: "POST", path: "/api/v1/workspaces/mut/archive", allowed: []string{"analyst1", "controller-gp"},
			body: func(string) any { return map[string]any{"reason": "Authorisation test."} }},
	}

	covered := map[string]bool{}
	for _, c := range cells {
		pattern := c.method + " " + strings.SplitN(c.path, "?", 2)[0]
		covered[pattern] = true
		for _, u := range users {
			if c.before != nil {
				c.before()
			}
			var b any
			if c.body != nil {
				b = c.body(u)
			}
			st, body := as(u).do(c.method, c.path, b, c.ctype)
			who := u
			if who == "" {
				who = "anonymous"
			}
			switch {
			case slices.Contains(c.allowed, u):
				if st == 401 || st == 403 || st == 404 {
					t.Errorf("%s %s as %s: %d %v, want allowed", c.method, c.path, who, st, body["error"])
				}
			case u == "":
				if st != 401 {
					t.Errorf("%s %s anonymously: %d, want 401", c.method, c.path, st)
				}
			default:
				if st != 403 && st != 404 {
					t.Errorf("%s %s as %s: %d %v, want 403 or 404", c.method, c.path, who, st, body)
				}
			}
		}
	}
	// Every route is in the matrix (paths with fixture IDs count for their pattern).
	for _, r := range httpapi.Routes() {
		pattern := strings.TrimSuffix(r, " public")
		if !matrixCovers(covered, pattern) {
			t.Errorf("route %s is not in the authorisation matrix", pattern)
		}
	}
}

// matrixCovers reports whether some tested path matches a route pattern with {wildcards}.
func matrixCovers(tested map[string]bool, pattern string) bool {
	pp := strings.Split(pattern, "/")
	for t := range tested {
		tp := strings.Split(t, "/")
		if len(tp) != len(pp) {
			continue
		}
		ok := true
		for i := range pp {
			if pp[i] != tp[i] && !strings.HasPrefix(pp[i], "{") {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
