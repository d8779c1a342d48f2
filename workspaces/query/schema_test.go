package query

import (
	"testing"

	"github.com/opensde/sde/workspaces/activate"
)

// TestSchemaOnePerPerson: only a table whose stored rows are all linked and all different
// persons may take the analyser's one-level rewrite.
func TestSchemaOnePerPerson(t *testing.T) {
	m := &activate.Manifest{Datasets: []activate.DatasetManifest{
		{Dataset: "patients", Table: "patients", SourceVersion: 1, Rows: activate.Rows{Stored: 100}, Persons: 100},
		{Dataset: "gp_events", Table: "gp_events", SourceVersion: 2, Rows: activate.Rows{Stored: 900}, Persons: 100},
		{Dataset: "vcse", Table: "vcse", SourceVersion: 1, Rows: activate.Rows{Stored: 50, Unlinked: 10}, Persons: 40},
		{Dataset: "empty", Table: "empty", SourceVersion: 1},
	}}
	want := map[string]bool{"patients": true, "gp_events": false, "vcse": false, "empty": false}
	linked := map[string]bool{"patients": true, "gp_events": true, "vcse": false, "empty": true}
	for _, tb := range Schema(m).Tables {
		if tb.OnePerPerson != want[tb.Name] || tb.Linked != linked[tb.Name] {
			t.Errorf("%s: OnePerPerson = %v, Linked = %v", tb.Name, tb.OnePerPerson, tb.Linked)
		}
	}
	if s := Schema(m).Tables[1].Source; s != "gp_events@v2" {
		t.Errorf("source = %q", s)
	}
}

// TestSchemaLookups: a lookup table's size and unique columns reach the analyser, which bounds
// the joins that could multiply rows by them; person-level tables carry neither.
func TestSchemaLookups(t *testing.T) {
	m := &activate.Manifest{Datasets: []activate.DatasetManifest{
		{Dataset: "areas", Table: "areas", SourceVersion: 1, Rows: activate.Rows{In: 3, Stored: 3, Unlinked: 3}, Unique: []string{"lsoa"}},
		{Dataset: "gp_events", Table: "gp_events", SourceVersion: 2, Rows: activate.Rows{Stored: 900}, Persons: 100},
	}}
	tb := Schema(m).Tables
	if tb[0].Rows != 3 || len(tb[0].Unique) != 1 || tb[0].Unique[0] != "lsoa" {
		t.Errorf("areas: Rows %d, Unique %q", tb[0].Rows, tb[0].Unique)
	}
	if tb[1].Rows != 0 || tb[1].Unique != nil {
		t.Errorf("gp_events: Rows %d, Unique %q", tb[1].Rows, tb[1].Unique)
	}
}
