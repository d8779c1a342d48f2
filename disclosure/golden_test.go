package disclosure

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/disclosure")

// TestGolden runs every testdata/disclosure/NAME.csv through the engine with the
// policy and measures of NAME.json (if present) and compares the safe table, the
// cell statuses and the decision record with NAME.golden.
func TestGolden(t *testing.T) {
	dir := filepath.Join("..", "testdata", "disclosure")
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs in %s: %v", dir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".csv")
		t.Run(name, func(t *testing.T) {
			var cfg struct {
				Policy   json.RawMessage `json:"policy"`
				Measures []string        `json:"measures"`
			}
			pol := DefaultPolicy()
			if b, err := os.ReadFile(strings.TrimSuffix(file, ".csv") + ".json"); err == nil {
				if err := json.Unmarshal(b, &cfg); err != nil {
					t.Fatal(err)
				}
				if cfg.Policy != nil {
					if pol, err = ParsePolicy(cfg.Policy); err != nil {
						t.Fatal(err)
					}
				}
			}
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in := csvInput(t, string(text), pol, cfg.Measures...)
			res := apply(t, in)
			checkProperties(t, in, res)
			var got bytes.Buffer
			if err := res.WriteCSV(&got); err != nil {
				t.Fatal(err)
			}
			got.WriteString("\n")
			for _, row := range res.Status {
				got.WriteString(strings.Join(row, ",") + "\n")
			}
			got.WriteString("\n")
			got.Write(res.Decision.JSON())
			got.WriteString("\n")
			golden := strings.TrimSuffix(file, ".csv") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got.String())
			}
		})
	}
}
