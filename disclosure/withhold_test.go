package disclosure

import "testing"

// TestWithholdSmallGroups: with the option, rows of groups below the threshold leave neither
// their labels nor a trace in the decision record; without it (public categories) they stay,
// suppressed.
func TestWithholdSmallGroups(t *testing.T) {
	table := "label,count\n193629.55,1\n62155.60,1\nrest,40\n"
	res := apply(t, csvInput(t, table, policy(nil)))
	if got := render(res); got != "193629.55 S\n62155.60 S\nrest 40\n" {
		t.Errorf("without withholding:\n%s", got)
	}
	res = apply(t, csvInput(t, table, policy(func(p *Policy) { p.WithholdSmallGroups = true })))
	if got := render(res); got != "rest 40\n" {
		t.Errorf("with withholding:\n%s", got)
	}
	d := res.Decision
	if d.Rows != 1 || len(d.Cells) != 1 || d.Counts.Cells != 2 || d.Counts.Suppressed != 0 || res.Record.NumRows() != 1 {
		t.Errorf("decision = rows %d, cells %v, counts %+v, record rows %d", d.Rows, d.Cells, d.Counts, res.Record.NumRows())
	}
	if d.SHA256 != hashTable(d.Columns, res.Values) {
		t.Error("the decision's hash is not of the released table")
	}
	// Strictest keeps it on.
	if !Strictest(DefaultPolicy(), policy(func(p *Policy) { p.WithholdSmallGroups = true })).WithholdSmallGroups {
		t.Error("Strictest dropped withhold_small_groups")
	}
}

// TestDifferencingAcrossGroupingSpellings: GROUP BY upper(sex) with one person left out is
// compared with an earlier GROUP BY sex by row values, so the one-person difference is
// suppressed (security review F4).
func TestDifferencingAcrossGroupingSpellings(t *testing.T) {
	led := &MemLedger{}
	pol := policy(func(p *Policy) { p.Rounding.Mode = RoundNone })
	first := csvInput(t, "sex,count\nF,50\nM,50\n", pol)
	first.Ledger, first.Query = led, Fingerprint{Sources: []string{"events@v1"}, Grouping: []string{"sex"}}
	if err := led.Record(apply(t, first).Release); err != nil {
		t.Fatal(err)
	}
	second := csvInput(t, "sx,count\nF,50\nM,49\n", pol)
	second.Ledger, second.Query = led, Fingerprint{Sources: []string{"events@v1"}, Grouping: []string{"upper(sex)"}, Filters: []string{"code <> 'HIV'"}}
	if got := render(apply(t, second)); got != "F 50\nM S\n" {
		t.Errorf("got\n%s", got)
	}
}
