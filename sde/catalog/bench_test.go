package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/crypto/vaulttest"
	"github.com/opensde/sde/sde/duck"
	"github.com/opensde/sde/sde/synth"
)

// benchSource returns the synthetic gp_events CSV for a population, generating it once into the
// cache (outside the repo): 100k people ≈ 1M event rows, 1M people ≈ 10M.
func benchSource(b *testing.B, people int) (path string, spec *Spec) {
	b.Helper()
	cache := os.Getenv("SDE_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "sde")
	}
	dir := filepath.Join(cache, "bench", fmt.Sprintf("synth-%d-%d", synth.DefaultSeed, people))
	path = filepath.Join(dir, "gp_events.csv")
	if _, err := os.Stat(path); err != nil {
		os.RemoveAll(dir)
		if _, err := synth.Generate(context.Background(), synth.Options{Seed: synth.DefaultSeed, People: people, Out: dir}); err != nil {
			b.Fatal(err)
		}
	}
	for _, sf := range synth.Specs() {
		if sf.Name == "gp_events" {
			s, err := ReadSpec(bytes.NewReader(sf.JSON))
			if err != nil {
				b.Fatal(err)
			}
			spec = s
		}
	}
	return path, spec
}

var benchSizes = []struct {
	name   string
	people int
}{{"1M", 100_000}, {"10M", 1_000_000}}

// BenchmarkIngest measures end-to-end ingest (read, validate, pseudonymise, generalise, write,
// fsync) of the synthetic gp_events file, with the local keyring and with Vault transit.
// rows/s is the figure in docs/benchmarks.md; compare with BenchmarkRawDuckDBLoad.
func BenchmarkIngest(b *testing.B) {
	for _, size := range benchSizes {
		path, spec := benchSource(b, size.people)
		for _, backend := range []string{"keyring", "vault"} {
			b.Run(size.name+"/"+backend, func(b *testing.B) {
				var ps crypto.Pseudonymiser
				if backend == "keyring" {
					ps = keyring(b)
				} else {
					v := vaulttest.Start(b)
					vt, err := crypto.NewVaultTransit(crypto.VaultConfig{Address: v.Addr, Token: v.Token, Key: vaulttest.LinkageKey})
					if err != nil {
						b.Fatal(err)
					}
					ps = vt
				}
				var rows int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					cat, _ := Open(b.TempDir())
					rep, err := cat.Ingest(context.Background(), IngestOptions{Spec: spec, Path: path, Pseudonymiser: ps})
					if err != nil {
						b.Fatal(err)
					}
					rows += rep.Rows.In
				}
				b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// BenchmarkRawDuckDBLoad is the baseline: DuckDB loading the same CSV, typed, into a table in a
// new database file, with no validation, pseudonymisation or lineage.
func BenchmarkRawDuckDBLoad(b *testing.B) {
	for _, size := range benchSizes {
		path, spec := benchSource(b, size.people)
		b.Run(size.name, func(b *testing.B) {
			var cols string
			for i, c := range spec.Columns {
				if i > 0 {
					cols += ", "
				}
				cols += duck.String(c.Name) + ": " + duck.String(c.Type)
			}
			var rows int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				db, err := sql.Open("duckdb", filepath.Join(b.TempDir(), "raw.duckdb"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.Exec("CREATE TABLE t AS SELECT * FROM read_csv(" + duck.String(path) + ", header = true, auto_detect = false, ignore_errors = true, columns = {" + cols + "})"); err != nil {
					b.Fatal(err)
				}
				var n int64
				db.QueryRow("SELECT count(*) FROM t").Scan(&n)
				db.Close()
				rows += n
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
