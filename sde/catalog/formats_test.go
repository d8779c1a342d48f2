//go:build duckdb_arrow

package catalog

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestIngestFormatsAgree ingests the same rows from CSV, Parquet and Arrow IPC (file and stream)
// and expects identical stored tables and quarantine lists.
func TestIngestFormatsAgree(t *testing.T) {
	src := t.TempDir()
	csvPath := writeFile(t, src, "p.csv", testCSV)
	parquetPath := filepath.Join(src, "p.parquet")
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("COPY (SELECT * FROM read_csv('" + csvPath + "', all_varchar = true)) TO '" + parquetPath + "' (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	arrowFile := writeArrow(t, filepath.Join(src, "p.arrow"), false)
	arrowStream := writeArrow(t, filepath.Join(src, "p.arrows"), true)

	k := keyring(t)
	var want string
	for _, path := range []string{csvPath, parquetPath, arrowFile, arrowStream} {
		cat, _ := Open(t.TempDir())
		rep, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: path, Pseudonymiser: k})
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(path), err)
		}
		got := dump(t, cat.DataFile("gp_patients", 1), "SELECT * FROM gp_patients ORDER BY ALL") + "\n" +
			dump(t, cat.DataFile("gp_patients", 1), "SELECT * FROM _quarantine ORDER BY ALL")
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("%s stored\n%s\nwant (from CSV)\n%s", filepath.Base(path), got, want)
		}
		if rep.Rows.In != 8 || rep.Rows.Quarantined != 3 {
			t.Errorf("%s: rows %+v", filepath.Base(path), rep.Rows)
		}
	}
}

func dump(t *testing.T, file, q string) string {
	db := openRO(t, file)
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		var line []string
		for _, v := range vals {
			line = append(line, v.String)
		}
		out = append(out, strings.Join(line, ","))
	}
	return strings.Join(out, "\n")
}

// writeArrow writes testCSV as an all-string Arrow IPC file or stream.
func writeArrow(t *testing.T, path string, stream bool) string {
	lines := strings.Split(strings.TrimSpace(testCSV), "\n")
	header := strings.Split(lines[0], ",")
	var fields []arrow.Field
	for _, h := range header {
		fields = append(fields, arrow.Field{Name: h, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, line := range lines[1:] {
		for i, v := range strings.Split(line, ",") {
			sb := b.Field(i).(*array.StringBuilder)
			if v == "" {
				sb.AppendNull()
			} else {
				sb.Append(v)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if stream {
		w := ipc.NewWriter(f, ipc.WithSchema(schema))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
	} else {
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	return path
}
