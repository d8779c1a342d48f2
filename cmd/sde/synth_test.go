package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde/synth"
)

func TestSynthCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out") // created by the command
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"synth", "--seed", "42", "--people", "800", "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, ds := range synth.Datasets() {
		data, err := os.ReadFile(filepath.Join(dir, ds+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		if ds == "patients" && bytes.Count(data, []byte("\n")) != 801 {
			t.Errorf("patients.csv has %d lines, want 801", bytes.Count(data, []byte("\n")))
		}
		if !strings.Contains(out.String(), ds+".csv") || !strings.Contains(errb.String(), "wrote "+ds+".csv") {
			t.Errorf("%s missing from the summary or the progress", ds)
		}
	}
	for _, f := range []string{synth.DictionaryMarkdown, synth.DictionaryJSON} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(out.String(), "800 people, seed 42") || !strings.Contains(errb.String(), "100%") {
		t.Errorf("unexpected output:\n%s\n%s", out.String(), errb.String())
	}

	// Same seed through the command and the API: same bytes.
	api := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Options{Seed: 42, People: 800, Out: api}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "gp_events.csv"))
	b, _ := os.ReadFile(filepath.Join(api, "gp_events.csv"))
	if !bytes.Equal(a, b) {
		t.Error("command and API output differ for the same seed")
	}

	// A second run needs --force.
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"synth", "--people", "800", "--out", dir}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--force") {
		t.Fatalf("rerun without --force: exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), []string{"synth", "--people", "800", "--out", dir, "--force"}, &out, &errb); code != 0 {
		t.Fatalf("rerun with --force: exit %d, stderr %q", code, errb.String())
	}
}

func TestSynthDefaults(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"synth", "-h"}, &out, &errb); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	for _, want := range []string{"20261123", "10000", "-out", "-force"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help does not mention %q:\n%s", want, errb.String())
		}
	}
}

func TestSynthBadFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--people", "0", "--out", t.TempDir()}, "--people must be between 1 and"},
		{[]string{"--people", "-3", "--out", t.TempDir()}, "--people must be between 1 and"},
		{[]string{"--people", "20000000", "--out", t.TempDir()}, "--people must be between 1 and"},
		{[]string{"--people", "many", "--out", t.TempDir()}, "invalid value"},
		{[]string{"--seed", "-1", "--out", t.TempDir()}, "invalid value"},
		{[]string{"--people", "10"}, "--out DIR is required"},
		{[]string{"--out", t.TempDir(), "extra"}, "unexpected argument"},
		{[]string{"--colour", "red"}, "flag provided but not defined"},
		{[]string{"--people", "10", "--out", filepath.Join(file, "sub")}, "Cannot create the output directory."},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"synth"}, tc.args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("synth %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, errb.String(), tc.want)
		}
		if strings.Contains(errb.String(), "plain-file") {
			t.Errorf("synth %v: message leaks a path: %q", tc.args, errb.String())
		}
	}
}

func TestSynthUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"synth", "--people", "10", "--out", dir}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "Cannot write to the output directory.") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
