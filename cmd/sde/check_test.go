package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const checkTable = "age,heart,population\n21-30,3,18\n31-40,8,23\n41-50,16,31\n51+,23,44\nTotal,50,116\n"

func TestCheckCommand(t *testing.T) {
	file := writeFile(t, "table.csv", checkTable)
	pol := writeFile(t, "policy.json", `{"threshold": 8, "totals": "recomputed"}`)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check", "--policy", pol, "--measures", "heart,population", file}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	table, record, ok := strings.Cut(out.String(), "\n\n")
	if !ok {
		t.Fatalf("no blank line between table and record:\n%s", out.String())
	}
	want := "age,heart,population\n21-30,,20\n31-40,10,25\n41-50,15,30\n51+,25,45\nTotal,50,120"
	if table != want {
		t.Errorf("table:\n%s\nwant\n%s", table, want)
	}
	var d struct {
		Status string     `json:"status"`
		Cells  [][]string `json:"cells"`
		SHA256 string     `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(record), &d); err != nil {
		t.Fatalf("decision record: %v\n%s", err, record)
	}
	if d.Status != "pass" || d.Cells[0][1] != "suppressed:threshold" || len(d.SHA256) != 64 {
		t.Errorf("decision %+v", d)
	}
}

func TestCheckCommandFlagsAndJSON(t *testing.T) {
	file := writeFile(t, "table.csv", "group,count,persons\na,12,1\nb,15,15\nc,25,25\nTotal,52,41\n")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check", "--k", "8", "--round", "10", "--json", file}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct {
		Columns []struct{ Name, Kind string } `json:"columns"`
		Rows    [][]any                       `json:"rows"`
		Cells   [][]string                    `json:"cells"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	// 12 rows from one person are one person: suppressed; b goes with it; 25 → 30 (half up).
	if got.Cells[0][1] != "suppressed:threshold" || got.Cells[1][1] != "suppressed:secondary" || got.Rows[0][1] != nil {
		t.Errorf("cells %v rows %v", got.Cells, got.Rows)
	}
	if got.Rows[2][1] != 30.0 || got.Rows[3][1] != 50.0 || got.Columns[1].Kind != "measure" {
		t.Errorf("rows %v columns %v", got.Rows, got.Columns)
	}
}

func TestCheckCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		args      []string
		msg       string
	}{
		{"negative", "g,count\na,-1\n", nil, "negative count"},
		{"redacted", "g,count\na,[REDACTED]\n", nil, "not an integer count"},
		{"no count column", "g,n\na,1\n", nil, `no column "count"`},
		{"totals do not add up", "g,count\na,20\nb,30\nTotal,49\n", nil, "does not equal the sum"},
		{"bad round", "g,count\na,20\n", []string{"--round", "five"}, "--round must be"},
		{"bad k", "g,count\na,20\n", []string{"--k", "-2"}, "threshold must be at least 1"},
	} {
		file := writeFile(t, "t.csv", tc.csv)
		var out, errb bytes.Buffer
		code := run(context.Background(), append(append([]string{"check"}, tc.args...), file), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, errb.String())
		}
		if strings.Contains(errb.String(), file) {
			t.Errorf("%s: message contains the file path", tc.name)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"check", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "CSV format") {
		t.Errorf("-h: exit %d\n%s", code, errb.String())
	}
	if code := run(context.Background(), []string{"check"}, &out, &errb); code != 2 {
		t.Errorf("no file: exit %d", code)
	}
}
