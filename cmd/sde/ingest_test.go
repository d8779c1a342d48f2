package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/synth"
)

func sdeName(s string) sde.DatasetName { return sde.DatasetName(s) }

// TestIngestCommand runs synth and then ingest as a data controller would from a terminal.
func TestIngestCommand(t *testing.T) {
	src, data := t.TempDir(), t.TempDir()
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"synth", "--seed", "7", "--people", "500", "--out", src}, &out, &errb); code != 0 {
		t.Fatalf("synth exit %d: %s", code, errb.String())
	}
	specPath := filepath.Join(t.TempDir(), "gp_events.json")
	for _, sf := range synth.Specs() {
		if sf.Name == "gp_events" {
			os.WriteFile(specPath, sf.JSON, 0o600)
		}
	}
	out.Reset()
	errb.Reset()
	code := run(ctx, []string{"ingest", "--spec", specPath, "--file", filepath.Join(src, "gp_events.csv"), "--data", data}, &out, &errb)
	if code != 0 {
		t.Fatalf("ingest exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"gp_events version 1", "rows quarantined", "quarantine reasons:", "linkage"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "pseudonymised") {
		t.Errorf("no progress on stderr:\n%s", errb.String())
	}

	// --json gives the machine-readable report, and a second ingest is version 2.
	out.Reset()
	if code := run(ctx, []string{"ingest", "--json", "--spec", specPath, "--file", filepath.Join(src, "gp_events.csv"), "--data", data}, &out, &errb); code != 0 {
		t.Fatalf("ingest --json exit %d: %s", code, errb.String())
	}
	var rep catalog.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out.String())
	}
	if rep.Version != 2 || rep.Rows.In != rep.Rows.OK+rep.Rows.Quarantined || rep.Rows.Quarantined == 0 {
		t.Errorf("report = %+v", rep.Lineage)
	}
}

func TestIngestCommandErrors(t *testing.T) {
	data := t.TempDir()
	empty := filepath.Join(t.TempDir(), "empty.csv")
	os.WriteFile(empty, nil, 0o600)
	spec := filepath.Join(t.TempDir(), "spec.json")
	os.WriteFile(spec, synth.Specs()[0].JSON, 0o600)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ingest"}, 2, "--spec and --file are required"},
		{[]string{"ingest", "--spec", "/no/such/spec.json", "--file", empty}, 2, "Cannot open the dataset spec"},
		{[]string{"ingest", "--spec", spec, "--file", empty}, 2, "is empty"},
		{[]string{"ingest", "--bogus"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(tc.args, "--data", data), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
		if strings.Contains(errb.String(), "/no/such") || strings.Contains(errb.String(), data) {
			t.Errorf("%v: message leaks a path: %q", tc.args, errb.String())
		}
	}
}
