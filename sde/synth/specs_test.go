package synth_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/synth"
)

// TestSpecs validates every embedded spec with the catalogue and checks its columns are exactly
// the CSV header, in order.
func TestSpecs(t *testing.T) {
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Options{Seed: 3, People: 200, Out: dir}); err != nil {
		t.Fatal(err)
	}
	specs := synth.Specs()
	if len(specs) != len(synth.Datasets()) {
		t.Fatalf("%d specs for %d datasets", len(specs), len(synth.Datasets()))
	}
	kinds := map[string]string{
		"patients": "gp", "gp_events": "gp", "hospital_admissions": "acute", "ae_attendances": "acute",
		"community_contacts": "community", "social_care": "local_authority", "vcse_contacts": "vcse", "opt_outs": "national",
	}
	for i, sf := range specs {
		if sf.Name != synth.Datasets()[i] {
			t.Fatalf("spec %d is %q, want %q", i, sf.Name, synth.Datasets()[i])
		}
		s, err := catalog.ReadSpec(bytes.NewReader(sf.JSON))
		if err != nil {
			t.Fatalf("%s: %v", sf.Name, err)
		}
		if string(s.Name) != sf.Name {
			t.Errorf("%s: spec names itself %q", sf.Name, s.Name)
		}
		if s.Controller.Kind != kinds[sf.Name] {
			t.Errorf("%s: controller kind %q, want %q", sf.Name, s.Controller.Kind, kinds[sf.Name])
		}
		if s.Person.Column != "nhs_number" || s.Person.Kind != "nhs_number" {
			t.Errorf("%s: person column %+v", sf.Name, s.Person)
		}
		wantReq := sf.Name != "social_care" && sf.Name != "vcse_contacts"
		if s.Person.Required != wantReq || s.Column("nhs_number").Required != wantReq {
			t.Errorf("%s: nhs_number required = %v, want %v", sf.Name, s.Person.Required, wantReq)
		}
		for _, c := range s.Columns {
			if c.Description == "" {
				t.Errorf("%s.%s has no description", sf.Name, c.Name)
			}
		}
		f, err := os.Open(filepath.Join(dir, sf.File))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(f).ReadString('\n')
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		header := strings.Split(strings.TrimSuffix(line, "\n"), ",")
		var cols []string
		for _, c := range s.Columns {
			cols = append(cols, c.Name)
		}
		if strings.Join(cols, ",") != strings.Join(header, ",") {
			t.Errorf("%s: spec columns\n  %v\nCSV header\n  %v", sf.Name, cols, header)
		}
	}
	// Direct identifiers are dropped and quasi-identifiers generalised.
	for _, tc := range []struct{ ds, drop string }{
		{"patients", "given_name"}, {"patients", "family_name"}, {"patients", "address_line"},
		{"patients", "phone"}, {"patients", "postcode"}, {"social_care", "la_client_id"},
	} {
		s, _ := catalog.ReadSpec(bytes.NewReader(specs[indexOf(tc.ds)].JSON))
		found := false
		for _, d := range s.Drop {
			found = found || d == tc.drop
		}
		if !found {
			t.Errorf("%s does not drop %s", tc.ds, tc.drop)
		}
	}
	s, _ := catalog.ReadSpec(bytes.NewReader(specs[indexOf("patients")].JSON))
	if len(s.Generalise) != 1 || s.Generalise[0].Column != "date_of_birth" || s.Generalise[0].Method != "month" || s.Generalise[0].OutputName() != "birth_month" {
		t.Errorf("patients generalisation: %+v", s.Generalise)
	}
}

func indexOf(ds string) int {
	for i, n := range synth.Datasets() {
		if n == ds {
			return i
		}
	}
	return -1
}
