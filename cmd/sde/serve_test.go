package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde/synth"
)

// startDev runs the service as `serve --dev` would, on free ports and a small population.
func startDev(t *testing.T, data string) (*Main, *bytes.Buffer) {
	return startDevWith(t, data, nil)
}

// startDevWith is startDev with a chance to change the configuration before start-up.
func startDevWith(t *testing.T, data string, configure func(*Main)) (*Main, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	m := NewMain(&out, io.Discard)
	if err := m.ParseFlags([]string{"--dev", "--data", data, "--addr", "127.0.0.1:0", "--flight-addr", "127.0.0.1:0"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	m.Config.Dev.People = 2000
	// The test binary plays the worker (see TestHelperWorker).
	m.WorkerExe, m.WorkerArgs = os.Args[0], []string{"-test.run=^TestHelperWorker$", "--", "worker"}
	if configure != nil {
		configure(m)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Cleanup(func() { m.Close() })
	return m, &out
}

func TestServeDev(t *testing.T) {
	data := t.TempDir()
	m, out := startDev(t, data)
	resp, err := http.Get("http://" + m.HTTP.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz = %d", resp.StatusCode)
	}
	if want := "open http://" + m.HTTP.Addr() + "/ and sign in"; !strings.Contains(out.String(), want) {
		t.Errorf("start-up does not say where the workbench is:\n%s", out.String())
	}
	for _, sf := range synth.Specs() {
		if !strings.Contains(out.String(), "ingested "+sf.Name) {
			t.Errorf("start-up did not report ingesting %s:\n%s", sf.Name, out.String())
		}
		if vs, _ := m.Catalog.Versions(sdeName(sf.Name)); len(vs) != 1 {
			t.Errorf("%s versions = %v", sf.Name, vs)
		}
	}

	// The raw NHS numbers of the same synthetic population appear nowhere in the data directory.
	src := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Options{Seed: DefaultDevSeed, People: 2000, Out: src}); err != nil {
		t.Fatal(err)
	}
	raw := nhsNumbers(t, filepath.Join(src, "patients.csv"), 200)
	grepTree(t, data, raw)

	// A restart finds the data and does not ingest again.
	m.Close()
	_, out2 := startDev(t, data)
	if !strings.Contains(out2.String(), "demo data already ingested") {
		t.Errorf("restart re-ingested:\n%s", out2.String())
	}
}

func TestServeNeedsDevOrConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve"}, &out, &errb); code != 2 {
		t.Fatalf("exit = %d", code)
	}
	if !strings.Contains(errb.String(), "--dev") {
		t.Errorf("stderr = %q", errb.String())
	}
}

// nhsNumbers reads up to n NHS numbers from a synthetic patients file.
func nhsNumbers(t *testing.T, path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	header, _ := r.Read()
	col := -1
	for i, h := range header {
		if h == "nhs_number" {
			col = i
		}
	}
	var out []string
	for len(out) < n {
		rec, err := r.Read()
		if err != nil {
			break
		}
		if rec[col] != "" {
			out = append(out, rec[col])
		}
	}
	if len(out) == 0 {
		t.Fatal("no NHS numbers in the synthetic patients file")
	}
	return out
}

// grepTree fails if any file under dir contains any of the raw values.
func grepTree(t *testing.T, dir string, raw []string) {
	t.Helper()
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range raw {
			if bytes.Contains(b, []byte(r)) {
				t.Fatalf("raw NHS number found in %s", p)
			}
		}
		return nil
	})
	if files < 8 {
		t.Fatalf("only %d files in the data directory; the grep proves nothing", files)
	}
}
