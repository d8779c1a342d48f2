package analyse

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// testSchema is the workspace the tests analyse against: three person-level
// tables and one lookup table.
func testSchema() Schema {
	return Schema{Tables: []Table{
		{Name: "patients", Columns: []Column{{"person_id", "VARCHAR"}, {"sex", "VARCHAR"}, {"birth_year", "INTEGER"}, {"lsoa", "VARCHAR"}, {"region", "VARCHAR"}}, OnePerPerson: true},
		{Name: "gp_events", Columns: []Column{{"person_id", "VARCHAR"}, {"event_date", "DATE"}, {"code", "VARCHAR"}, {"practice", "VARCHAR"}, {"value", "DOUBLE"}, {"units", "INTEGER"}, {"cost", "DECIMAL(10,2)"}}, Source: "gp_events@v1", Linked: true},
		{Name: "admissions", Columns: []Column{{"person_id", "VARCHAR"}, {"admit_date", "DATE"}, {"kind", "VARCHAR"}, {"los", "INTEGER"}, {"cost", "DOUBLE"}}, Linked: true},
		{Name: "lsoa_lookup", Columns: []Column{{"lsoa", "VARCHAR"}, {"imd_decile", "INTEGER"}, {"msoa", "VARCHAR"}}, Unique: []string{"lsoa"}},
		{Name: "contacts", Columns: []Column{{"person_id", "VARCHAR"}, {"service", "VARCHAR"}, {"hours", "INTEGER"}}},
	}}
}

// fixture is the small fixed dataset the equivalence tests run on: 300
// persons, events spread unevenly over them, NULLs and negative values included.
var fixture = []string{
	`CREATE TABLE patients AS SELECT 'p' || lpad(i::VARCHAR, 4, '0') AS person_id,
		CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END AS sex, 1930 + (i * 37) % 80 AS birth_year,
		'L' || (i % 7) AS lsoa, CASE WHEN i % 10 = 9 THEN NULL ELSE ['North', 'South', 'East'][1 + i % 3] END AS region
		FROM range(300) t(i)`,
	`CREATE TABLE gp_events AS SELECT 'p' || lpad(((i * 7919) % 300)::VARCHAR, 4, '0') AS person_id,
		DATE '2020-01-01' + ((i * 13) % 1000)::INTEGER AS event_date, ['E11', 'I10', 'J45', 'F32'][1 + (hash(i * 3) % 4)::INTEGER] AS code,
		'P' || (hash(i) % 5) AS practice, CASE WHEN i % 11 = 0 THEN NULL ELSE (i % 97) * 1.5 - 3 END::DOUBLE AS value,
		(i % 5)::INTEGER AS units, ((i * 31) % 1000 / 10.0)::DECIMAL(10,2) AS cost
		FROM range(3000) t(i)`,
	`CREATE TABLE admissions AS SELECT 'p' || lpad(((i * 104729) % 250)::VARCHAR, 4, '0') AS person_id,
		DATE '2021-01-01' + ((i * 7) % 600)::INTEGER AS admit_date, CASE WHEN hash(i) % 3 = 0 THEN 'emergency' ELSE 'elective' END AS kind,
		(i % 9)::INTEGER AS los, CASE WHEN i % 13 = 0 THEN NULL ELSE (i % 50) * 100.25 END::DOUBLE AS cost
		FROM range(800) t(i)`,
	`CREATE TABLE lsoa_lookup AS SELECT 'L' || i AS lsoa, 1 + i % 10 AS imd_decile, 'M' || (i % 3) AS msoa FROM range(7) t(i)`,
	// Contacts of voluntary services: a quarter carry no NHS number, so no person (unlinked).
	`CREATE TABLE contacts AS SELECT CASE WHEN i % 4 = 0 THEN NULL ELSE 'p' || lpad(((i * 31) % 300)::VARCHAR, 4, '0') END AS person_id,
		['social', 'carers', 'advice'][1 + i % 3] AS service, (i % 7)::INTEGER AS hours FROM range(500) t(i)`,
}

func fixtureDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range fixture {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

var (
	sharedOnce sync.Once
	shared     *Analyser
	sharedErr  error
)

// analyser returns one Analyser shared by the package's tests (as in serve).
func analyser(t testing.TB) *Analyser {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = New(context.Background()) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}
