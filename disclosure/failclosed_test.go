package disclosure

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestFailClosed(t *testing.T) {
	pol := DefaultPolicy()
	sumStats := func(n int) []RowStats {
		s := make([]RowStats, n)
		for i := range s {
			s[i] = RowStats{Persons: 20, Cells: []CellStats{{Persons: 20, Max1: 1, Max2: 1, Total: 20}}}
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		build func() Input
	}{
		{"no record", func() Input { return Input{Policy: pol} }},
		{"plan has fewer columns", func() Input {
			rec, plan := record(dim("g", "a"), count("n", 20))
			plan.Columns = plan.Columns[:1]
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"plan names another column", func() Input {
			rec, plan := record(count("n", 20))
			plan.Columns[0].Name = "m"
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"unknown aggregate", func() Input {
			rec, plan := record(count("n", 20))
			plan.Columns[0].Aggregate = "mode"
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"negative count", func() Input {
			rec, plan := record(count("n", -3))
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"NaN sum", func() Input {
			rec, plan := record(magnitude("s", Sum, math.NaN()))
			return Input{Record: rec, Plan: plan, Stats: sumStats(1), Policy: pol}
		}},
		{"missing person statistics", func() Input {
			rec, plan := record(count("n", 20, 30))
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"negative persons", func() Input {
			rec, plan := record(count("n", 20))
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{-1}), Policy: pol}
		}},
		{"sum without contributions", func() Input {
			rec, plan := record(magnitude("s", Sum, 20))
			return Input{Record: rec, Plan: plan, Stats: personsAre([]int64{20}), Policy: pol}
		}},
		{"sum differs from contributions", func() Input {
			rec, plan := record(magnitude("s", Sum, 25))
			return Input{Record: rec, Plan: plan, Stats: sumStats(1), Policy: pol}
		}},
		{"cell persons above row persons", func() Input {
			rec, plan := record(count("n", 20))
			return Input{Record: rec, Plan: plan, Stats: []RowStats{{Persons: 5, Cells: []CellStats{{Persons: 20}}}}, Policy: pol}
		}},
		{"margin does not add up", func() Input {
			in := csvInput(t, "g,count\na,20\nb,30\nTotal,49\n", pol)
			return in
		}},
		{"row sets shorter than the record", func() Input {
			in := csvInput(t, "g,count\na,20\nb,30\nTotal,50\n", pol)
			in.Plan.RowSets = in.Plan.RowSets[:2]
			return in
		}},
		{"grouping set names a measure", func() Input {
			in := csvInput(t, "g,count\na,20\nb,30\nTotal,50\n", pol)
			in.Plan.GroupingSets[0] = []int{1}
			return in
		}},
		{"duplicate groups", func() Input {
			return csvInput(t, "g,count\na,20\na,30\nTotal,50\n", pol)
		}},
		{"external margin on a dimension", func() Input {
			in := csvInput(t, "g,count\na,20\nb,30\n", pol)
			in.Margins = []Margin{{Column: "g", Rows: []int{0, 1}}}
			return in
		}},
		{"ledger without fingerprint", func() Input {
			in := csvInput(t, "g,count\na,20\nb,30\n", pol)
			in.Ledger = &MemLedger{}
			return in
		}},
		{"bad policy", func() Input {
			in := csvInput(t, "g,count\na,20\n", pol)
			in.Policy.Threshold = 0
			return in
		}},
	} {
		_, err := Apply(tc.build())
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: error %v is neither ErrInvalid nor ErrPolicy", tc.name, err)
		}
	}
}

// An LP the solver cannot finish counts as unprotected: cells are suppressed
// until nothing is left to suppress, and nothing primary is released.
func TestFailClosedSolver(t *testing.T) {
	failLP = errSolver
	defer func() { failLP = nil }()
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	res := apply(t, csvInput(t, tc06, pol))
	if res.Decision.Counts.Released != 32 || res.Decision.Status != Review {
		t.Errorf("%d cells released (want only the 32 dimension cells), status %s\n%s", res.Decision.Counts.Released, res.Decision.Status, render(res))
	}
	if res.Status[1][2] != "suppressed:threshold" {
		t.Errorf("primary cell: %s", res.Status[1][2])
	}
}

func TestRowCap(t *testing.T) {
	pol := policy(func(p *Policy) { p.MaxRows = 2 })
	res := apply(t, csvInput(t, "g,count\na,20\nb,30\nc,40\n", pol))
	if res.Decision.Status != Fail || res.Decision.Counts.Released != 0 {
		t.Errorf("got %s with %d released", res.Decision.Status, res.Decision.Counts.Released)
	}
	for _, row := range res.Values {
		for _, v := range row {
			if v != nil {
				t.Fatalf("value released over the row cap: %v", res.Values)
			}
		}
	}
}

func TestRefusedAggregate(t *testing.T) {
	rec, plan := record(dim("g", "a"), magnitude("m", Max, 99))
	res := apply(t, Input{Record: rec, Plan: plan, Stats: personsAre([]int64{50}), Policy: DefaultPolicy()})
	if res.Status[0][1] != "suppressed:policy" || res.Decision.Status != Fail {
		t.Errorf("got %v %s", res.Status[0], res.Decision.Status)
	}
}

func TestDegenerateTables(t *testing.T) {
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	for _, csv := range []string{
		"g,count\n",
		"g,count\nTotal,0\n",
		"g,count\na,0\nb,0\nTotal,0\n",
		"g,count\na,3\nTotal,3\n",
		"g,count\na,3\nb,4\nTotal,7\n",
		"r,c,count\na,x,1\na,Total,1\nTotal,x,1\nTotal,Total,1\n",
		"r,c,count\na,x,0\na,y,0\na,Total,0\nb,x,0\nb,y,2\nb,Total,2\nTotal,x,0\nTotal,y,2\nTotal,Total,2\n",
	} {
		for _, zeros := range []bool{false, true} {
			pol.ZerosDisclosive = zeros
			in := csvInput(t, csv, pol)
			res := apply(t, in)
			checkProperties(t, in, res)
		}
	}
}

func TestExternalMargins(t *testing.T) {
	// Rows a..d were released without a total, but their total was released
	// earlier: a = 3 must not be derivable from it.
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	in := csvInput(t, "g,count\na,3\nb,40\nc,50\nd,60\n", pol)
	if res := apply(t, in); res.Decision.Counts.ByReason[ReasonSecondary] != 0 {
		t.Fatalf("no margins: %d secondary", res.Decision.Counts.ByReason[ReasonSecondary])
	}
	in.Margins = []Margin{{Column: "count", Rows: []int{0, 1, 2, 3}}}
	res := apply(t, in)
	if got, want := render(res), "a S\nb S\nc 50\nd 60\n"; got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
	checkProperties(t, in, res)
}

func TestDifferencing(t *testing.T) {
	base := Fingerprint{Sources: []string{"events@v1"}, Grouping: []string{"region"}, Filters: []string{"age >= 18"}}
	narrower := base
	narrower.Filters = []string{"sex = 'F'", "age >= 18"}
	unrelated := base
	unrelated.Filters = []string{"year = 2024"}
	tautology := narrower
	tautology.Filters = append(slices.Clone(narrower.Filters), "n >= 0")
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	ledger := &MemLedger{}
	first := csvInput(t, "region,count\nN,120\nS,200\n", pol)
	first.Ledger, first.Query = ledger, base
	res := apply(t, first)
	if err := ledger.Record(res.Release); err != nil {
		t.Fatal(err)
	}
	// N differs by 3 persons from the earlier release (< k), S by 50.
	for _, tc := range []struct {
		name   string
		q      Fingerprint
		action Action
		want   string
		status Outcome
	}{
		{"one more conjunct", narrower, ActionSuppress, "N S\nS 150\n", Pass},
		{"review", narrower, ActionReview, "N 117\nS 150\n", Review},
		// Containment cannot be read from the text, so any other filter is compared too.
		{"another filter", unrelated, ActionSuppress, "N S\nS 150\n", Pass},
		{"one more condition hidden behind a tautology (review F4)", tautology, ActionSuppress, "N S\nS 150\n", Pass},
	} {
		p := pol
		p.Differencing = tc.action
		in := csvInput(t, "region,count\nN,117\nS,150\n", p)
		in.Ledger, in.Query = ledger, tc.q
		res := apply(t, in)
		if got := render(res); got != tc.want || res.Decision.Status != tc.status {
			t.Errorf("%s: got %s\n%s, want %s\n%s", tc.name, res.Decision.Status, got, tc.status, tc.want)
		}
		if tc.action == ActionSuppress && tc.q.Differences(base) && res.Status[0][1] != "suppressed:differencing" {
			t.Errorf("%s: status %s", tc.name, res.Status[0][1])
		}
	}
}

func TestFingerprintDifferences(t *testing.T) {
	f := Fingerprint{Sources: []string{"b", "a"}, Grouping: []string{"x"}, Filters: []string{"p", "q"}}
	for _, tc := range []struct {
		g    Fingerprint
		want bool
	}{
		{Fingerprint{Sources: []string{"a", "b"}, Grouping: []string{"x"}, Filters: []string{"q"}}, true},
		{Fingerprint{Sources: []string{"a", "b"}, Grouping: []string{"x"}, Filters: []string{"q", "p", "r"}}, true},
		{Fingerprint{Sources: []string{"a", "b"}, Grouping: []string{"x"}, Filters: []string{"q", "p"}}, false},
		{Fingerprint{Sources: []string{"a", "b"}, Grouping: []string{"x"}, Filters: []string{"r"}}, true},
		{Fingerprint{Sources: []string{"a"}, Grouping: []string{"x"}, Filters: []string{"q"}}, false},
		// A grouping written another way is compared too (review F4).
		{Fingerprint{Sources: []string{"a", "b"}, Grouping: []string{"y"}, Filters: []string{"q"}}, true},
	} {
		if got := f.Differences(tc.g); got != tc.want {
			t.Errorf("%v vs %v: got %v", f, tc.g, got)
		}
	}
}

func TestPolicyJSONAndStrictest(t *testing.T) {
	p := DefaultPolicy()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParsePolicy(b)
	if err != nil || !slices.Equal(q.Refuse, p.Refuse) || q.Threshold != p.Threshold || q.Rounding != p.Rounding {
		t.Fatalf("round trip: %+v, %v", q, err)
	}
	if q, err := ParsePolicy([]byte(`{"threshold": 8}`)); err != nil || q.Threshold != 8 || q.Rounding.Base != 5 {
		t.Errorf("partial policy: %+v, %v", q, err)
	}
	for _, bad := range []string{`{"threshhold": 8}`, `{"threshold": 0}`, `{"rounding": {"mode": "banker"}}`, `{} {}`, `{"dominance": {"n": 3, "k": 0.9}}`} {
		if _, err := ParsePolicy([]byte(bad)); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: got %v", bad, err)
		}
	}
	a := policy(func(p *Policy) {
		p.Threshold = 8
		p.Rounding = Rounding{Mode: RoundMidpoint6}
		p.Refuse = []Aggregate{Min}
	})
	c := policy(func(p *Policy) {
		p.ZerosDisclosive, p.MaxRows, p.Totals, p.Differencing = true, 1000, TotalsRecomputed, ActionReview
		p.Dominance = Dominance{N: 1, K: 0.8, P: 0.2}
		p.Refuse = []Aggregate{Max, Median}
	})
	s := Strictest(a, c)
	want := Policy{Threshold: 10, ZerosDisclosive: true, Rounding: Rounding{Mode: RoundMidpoint6}, Totals: TotalsRecomputed,
		Dominance: Dominance{N: 2, K: 0.8, P: 0.2}, Refuse: []Aggregate{Max, Median, Min}, MaxRows: 1000, Protection: 10,
		ProtectionRatio: 0.10, Differencing: ActionSuppress, NegativeContributions: ActionReview}
	sb, _ := json.Marshal(s)
	wb, _ := json.Marshal(want)
	if string(sb) != string(wb) {
		t.Errorf("Strictest:\n got %s\nwant %s", sb, wb)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
	// Composition never loosens: both inputs' thresholds are respected on any table.
	rng := rand.New(rand.NewPCG(1, 1))
	for it := 0; it < 20; it++ {
		a, b := randomPolicy(rng), randomPolicy(rng)
		s := Strictest(a, b)
		if s.Threshold < max(a.Threshold, b.Threshold) || (a.ZerosDisclosive && !s.ZerosDisclosive) || s.MaxRows > min(a.MaxRows, b.MaxRows) {
			t.Fatalf("Strictest(%+v, %+v) = %+v", a, b, s)
		}
	}
}

func TestDecisionRecord(t *testing.T) {
	pol := policy(func(p *Policy) { p.Threshold = 8 })
	in := csvInput(t, "age,heart,population\n21-30,3,18\n31-40,8,23\n41-50,16,31\n51+,23,44\nTotal,50,116\n", pol, "heart", "population")
	res := apply(t, in)
	d := res.Decision
	if d.Engine != "sde-disclosure/"+Version || d.Status != Pass || d.Rows != 5 || len(d.SHA256) != 64 {
		t.Errorf("decision %+v", d)
	}
	if d.Counts.Cells != 15 || d.Counts.Suppressed+d.Counts.Released != 15 || d.Counts.ByReason[ReasonThreshold] != 1 {
		t.Errorf("counts %+v", d.Counts)
	}
	var back Decision
	if err := json.Unmarshal(d.JSON(), &back); err != nil || back.SHA256 != d.SHA256 {
		t.Errorf("JSON round trip: %v", err)
	}
	// The hash is of the released table, so equal releases hash equal.
	if again := apply(t, in); again.Decision.SHA256 != d.SHA256 {
		t.Error("same input, different hash")
	}
	// No cell value appears anywhere in the record: the only numbers are the policy's, the
	// counts and the row count (a value field added later would fail here).
	var doc map[string]any
	if err := json.Unmarshal(d.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		case float64:
			if path != ".rows" && !strings.HasPrefix(path, ".policy.") && !strings.HasPrefix(path, ".counts.") {
				t.Errorf("decision record holds a number at %s (%v): cell values must not appear", path, v)
			}
		}
	}
	walk("", doc)
}
