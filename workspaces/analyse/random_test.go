package analyse

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
)

var (
	randomSeed    = flag.Uint64("seed", 5, "seed for TestEquivalenceRandom")
	randomQueries = flag.Int("queries", 60, "number of queries TestEquivalenceRandom generates")
)

// TestEquivalenceRandom generates aggregate queries from pieces (FROM clauses,
// grouping keys, grouping modes, measures with and without FILTER, WHERE
// conjuncts) and checks each like TestEquivalence: same values as written,
// __persons equal to a direct COUNT(DISTINCT person).
func TestEquivalenceRandom(t *testing.T) {
	type from struct {
		sql, person     string
		keys, nums, cat []string
	}
	froms := []from{
		{"patients", "person_id", []string{"region", "sex", "lsoa", "(2024 - birth_year) // 20"}, []string{"birth_year"}, []string{"lsoa"}},
		{"patients JOIN gp_events USING (person_id)", "person_id", []string{"region", "sex", "code", "practice", "year(event_date)"}, []string{"value", "units", "cost"}, []string{"code", "practice", "event_date"}},
		{"gp_events g", "g.person_id", []string{"code", "practice", "date_trunc('quarter', event_date)"}, []string{"value", "units", "cost"}, []string{"code", "event_date"}},
		{"admissions a JOIN patients p USING (person_id) JOIN lsoa_lookup l ON p.lsoa = l.lsoa", "a.person_id", []string{"kind", "l.imd_decile", "l.msoa", "p.sex"}, []string{"los", "a.cost"}, []string{"kind", "l.msoa"}},
		{"patients p LEFT JOIN admissions a ON p.person_id = a.person_id", "p.person_id", []string{"p.region", "a.kind", "p.sex"}, []string{"a.los", "a.cost", "p.birth_year"}, []string{"a.kind", "a.admit_date"}},
	}
	conds := []string{"sex = 'F'", "birth_year > 1960", "region <> 'East'", "lsoa IN ('L1', 'L2', 'L3')", "region IS NOT NULL"}
	filters := []string{"sex = 'M'", "birth_year BETWEEN 1940 AND 1990", "region = 'North'"}
	rng := rand.New(rand.NewPCG(*randomSeed, 7))
	pick := func(xs []string, n int) []string {
		p := rng.Perm(len(xs))
		var out []string
		for _, i := range p[:min(n, len(xs))] {
			out = append(out, xs[i])
		}
		return out
	}
	an := analyser(t)
	db := fixtureDB(t)
	ctx := context.Background()
	for n := 0; n < *randomQueries; n++ {
		f := froms[rng.IntN(len(froms))]
		keys := pick(f.keys, rng.IntN(4))
		var sel []string
		for i, k := range keys {
			sel = append(sel, fmt.Sprintf("%s AS k%d", k, i))
		}
		measures := []string{"count(*)", "count(DISTINCT " + f.person + ")"}
		for _, x := range f.nums {
			measures = append(measures, "sum("+x+")", "avg("+x+")", "count("+x+")", "min("+x+")", "max("+x+")", "median("+x+")")
		}
		for _, x := range f.cat {
			measures = append(measures, "count(DISTINCT "+x+")")
		}
		for i, m := range pick(measures, 1+rng.IntN(4)) {
			if rng.IntN(4) == 0 && strings.Contains(f.sql, "patients") && !strings.Contains(f.sql, "admissions a JOIN") {
				m += " FILTER (WHERE " + qualify(filters[rng.IntN(len(filters))], f.sql) + ")"
			}
			sel = append(sel, fmt.Sprintf("%s AS m%d", m, i))
		}
		text := "SELECT " + strings.Join(sel, ", ") + " FROM " + f.sql
		if rng.IntN(2) == 0 && strings.Contains(f.sql, "patients") && !strings.Contains(f.sql, "admissions a JOIN") {
			var ws []string
			for _, c := range pick(conds, 1+rng.IntN(2)) {
				ws = append(ws, qualify(c, f.sql))
			}
			text += " WHERE " + strings.Join(ws, " AND ")
		}
		if len(keys) > 0 {
			var ks []string
			for i := range keys {
				ks = append(ks, fmt.Sprintf("k%d", i))
			}
			switch rng.IntN(4) {
			case 0, 1:
				text += " GROUP BY " + strings.Join(ks, ", ")
			case 2:
				text += " GROUP BY ROLLUP (" + strings.Join(ks, ", ") + ")"
			case 3:
				if len(ks) <= 2 {
					text += " GROUP BY CUBE (" + strings.Join(ks, ", ") + ")"
				} else {
					text += " GROUP BY GROUPING SETS ((" + strings.Join(ks, ", ") + "), (" + ks[0] + "), ())"
				}
			}
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			q, err := an.Analyse(ctx, text, testSchema())
			if err != nil {
				t.Fatalf("refused %s: %v", text, err)
			}
			_, origTypes, orig := runSQL(t, db, text)
			_, types, got := runSQL(t, db, q.Rewritten)
			v := q.StatsColumns.Visible
			if !slices.Equal(origTypes, types[:v]) {
				t.Errorf("%s\ntypes: original %q, rewritten %q", text, origTypes, types[:v])
			}
			var vis, want []string
			for _, r := range got {
				vis = append(vis, rowKey(r[:v]))
			}
			for _, r := range orig {
				want = append(want, rowKey(r))
			}
			slices.Sort(vis)
			slices.Sort(want)
			if !slices.Equal(vis, want) {
				t.Errorf("%s\nrows differ:\noriginal  %q\nrewritten %q", text, want, vis)
			}
			checkPersons(t, db, q, text, got)
			checkCells(t, q, got)
		})
	}
}

// qualify prefixes the patients columns of a condition when the FROM aliases patients as p.
func qualify(cond, from string) string {
	if !strings.Contains(from, "patients p") {
		return cond
	}
	for _, c := range []string{"sex", "birth_year", "region", "lsoa"} {
		cond = strings.ReplaceAll(cond, c+" ", "p."+c+" ")
	}
	return cond
}

// Every aggregate over every column type is either accepted or refused with a
// reason: never an internal error.
func TestNoInternalErrors(t *testing.T) {
	an := analyser(t)
	ctx := context.Background()
	aggs := []string{"count(%s)", "count(DISTINCT %s)", "sum(%s)", "avg(%s)", "min(%s)", "max(%s)", "median(%s)",
		"quantile_cont(%s, 0.5)", "quantile_disc(%s, 0.5)", "stddev(%s)", "var_pop(%s)", "round(avg(%s), 1)", "count_if(%s IS NULL)"}
	for _, tb := range testSchema().Tables {
		for _, c := range tb.Columns {
			for _, a := range aggs {
				text := fmt.Sprintf("SELECT "+a+" AS m FROM %s JOIN patients p USING (person_id)", c.Name, tb.Name)
				if tb.Name == "lsoa_lookup" {
					text = fmt.Sprintf("SELECT "+a+" AS m FROM patients JOIN %s USING (lsoa)", c.Name, tb.Name)
				}
				if tb.Name == "patients" {
					text = fmt.Sprintf("SELECT "+a+" AS m FROM patients", c.Name)
				}
				_, err := an.Analyse(ctx, text, testSchema())
				if err != nil && sde.ErrorCode(err) == sde.EINTERNAL {
					t.Errorf("%s: %v", text, err)
				}
			}
		}
	}
}
