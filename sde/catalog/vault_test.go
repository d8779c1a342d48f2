package catalog

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/opensde/sde/crypto"
	"github.com/opensde/sde/crypto/vaulttest"
	"github.com/opensde/sde/sde"
)

func vaultPseudonymiser(t *testing.T, v *vaulttest.Server) *crypto.VaultTransit {
	t.Helper()
	ps, err := crypto.NewVaultTransit(crypto.VaultConfig{Address: v.Addr, Token: v.Token, Key: vaulttest.LinkageKey})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestIngestWithVault ingests two datasets through Vault transit and checks they link: the same
// NHS number gives the same person_id in both, and the key version is recorded.
func TestIngestWithVault(t *testing.T) {
	v := vaulttest.Start(t)
	ps := vaultPseudonymiser(t, v)
	data, src := t.TempDir(), t.TempDir()
	cat, _ := Open(data)
	rep, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "p.csv", testCSV), Pseudonymiser: ps})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rep.Key, "vault:transit/sde-linkage:") || rep.Rows.Linked != 4 {
		t.Errorf("lineage = %+v", rep.Lineage)
	}
	other := strings.Replace(testSpec, `"name": "gp_patients"`, `"name": "other_source"`, 1)
	if _, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, other), Path: writeFile(t, src, "o.csv", testCSV), Pseudonymiser: ps}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var linked int
	if _, err := db.Exec("ATTACH '" + cat.DataFile("gp_patients", 1) + "' AS a (READ_ONLY); ATTACH '" + cat.DataFile("other_source", 1) + "' AS b (READ_ONLY)"); err != nil {
		t.Fatal(err)
	}
	q := "SELECT count(DISTINCT x.person_id) FROM a.gp_patients x JOIN b.other_source y USING (person_id)"
	if err := db.QueryRow(q).Scan(&linked); err != nil {
		t.Fatal(err)
	}
	if linked != 3 {
		t.Errorf("%d persons link across the two datasets, want 3", linked)
	}
	assertNoRawIdentifiers(t, data, rawNHS)
}

// sabotage runs f after the first successful batch, so Vault fails in the middle of an ingest.
type sabotage struct {
	crypto.Pseudonymiser
	f     func()
	calls int
}

func (s *sabotage) Pseudonymise(ctx context.Context, ids []string) ([]sde.Pseudonym, error) {
	s.calls++
	if s.calls == 2 {
		s.f()
	}
	return s.Pseudonymiser.Pseudonymise(ctx, ids)
}

// TestIngestVaultFailsMidway: Vault sealed, or gone, in the middle of an ingest ⇒ a clear
// error that names neither Vault's address nor its token, and no new dataset version.
func TestIngestVaultFailsMidway(t *testing.T) {
	var many strings.Builder
	many.WriteString("nhs_number,family_name,date_of_birth,postcode,lsoa,imd_decile\n")
	for i := 0; i < 2*pseudonymBatch+10; i++ {
		many.WriteString(validNHS(i) + ",Smith,1950-03-14,LS1 4AP,E01000001,3\n")
	}
	for _, tc := range []struct {
		name string
		fail func(*vaulttest.Server)
	}{
		{"sealed", (*vaulttest.Server).Seal},
		{"unreachable", (*vaulttest.Server).Stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := vaulttest.Start(t)
			data, src := t.TempDir(), t.TempDir()
			cat, _ := Open(data)
			before := snapshot(t, data)
			ps := &sabotage{Pseudonymiser: vaultPseudonymiser(t, v), f: func() { tc.fail(v) }}
			_, err := cat.Ingest(context.Background(), IngestOptions{Spec: mustSpec(t, testSpec), Path: writeFile(t, src, "many.csv", many.String()), Pseudonymiser: ps})
			if sde.ErrorCode(err) != sde.EUNAVAILABLE {
				t.Fatalf("err = %v, want code %s", err, sde.EUNAVAILABLE)
			}
			msg := sde.ErrorMessage(err)
			host := strings.TrimPrefix(v.Addr, "http://")
			if strings.Contains(msg, host) || strings.Contains(msg, v.Token) {
				t.Errorf("message leaks Vault's address or token: %q", msg)
			}
			if ps.calls < 2 {
				t.Errorf("Vault failed before the ingest was under way (%d calls): %v", ps.calls, err)
			}
			if after := snapshot(t, data); after != before {
				t.Errorf("data directory changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}
