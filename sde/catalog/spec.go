// Package catalog holds dataset specs, the ingest pipeline that turns a source file into an
// immutable, pseudonymised, versioned dataset, and the catalogue of those versions.
package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/opensde/sde/sde"
)

// Spec declares one dataset: who controls it, which column identifies the person, what is
// dropped, what is generalised and the type of every input column. Specs are JSON files; the
// synthetic sources' specs live in sde/synth/specs.
type Spec struct {
	Name        sde.DatasetName `json:"name"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Controller  Organisation    `json:"controller"`
	Person      PersonColumn    `json:"person"`
	// Drop lists direct identifiers (names, addresses, phone numbers, postcodes, free text) that
	// are read for validation but never written to the dataset.
	Drop []string `json:"drop,omitempty"`
	// Generalise lists quasi-identifiers and how each is coarsened before it is stored.
	Generalise []Generalisation `json:"generalise,omitempty"`
	// Columns lists every column of the source file, in any order; extra source columns are an error.
	Columns []Column `json:"columns"`
}

// Organisation is a data controller.
type Organisation struct {
	Code sde.OrgCode `json:"code"`
	Name string      `json:"name"`
	Kind string      `json:"kind,omitempty"` // gp, acute, community, local_authority, vcse, national
}

// PersonColumn names the column that identifies the person a row is about.
type PersonColumn struct {
	Column string `json:"column"`
	// Kind is "nhs_number" (10 digits, Modulus-11 check digit; rows with a bad one are quarantined).
	Kind string `json:"kind"`
	// Required makes a missing identifier a quarantine reason; otherwise such rows are kept,
	// unlinked (person_id NULL), and count against the linkage rate.
	Required bool `json:"required,omitempty"`
}

// Generalisation coarsens one quasi-identifier.
type Generalisation struct {
	Column string `json:"column"`
	// Method: for dates "month" (first day of the month), "year", "age_band_5" or "age_band_10"
	// (age in whole years on the ingest's reference date, e.g. "40-44", "90+"); for UK postcodes
	// "district" (outward code, "LS1") or "sector" ("LS1 4").
	Method string `json:"method"`
	// Output is the stored column's name; defaults to Column.
	Output string `json:"output,omitempty"`
}

// Column is one source column.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // VARCHAR, BIGINT, INTEGER, DOUBLE, DECIMAL(p,s) with p ≤ 18, DATE, TIMESTAMP, BOOLEAN
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"` // an empty value is a quarantine reason
}

var (
	identRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	decimalRe = regexp.MustCompile(`^DECIMAL\((\d{1,2}),(\d{1,2})\)$`)
	methods   = map[string]string{"month": "DATE", "year": "DATE", "age_band_5": "DATE", "age_band_10": "DATE", "district": "VARCHAR", "sector": "VARCHAR"}
)

// SupportedType reports whether t is a column type specs may use.
func SupportedType(t string) bool {
	switch t {
	case "VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN":
		return true
	}
	m := decimalRe.FindStringSubmatch(t)
	if m == nil {
		return false
	}
	p, _ := strconv.Atoi(m[1])
	sc, _ := strconv.Atoi(m[2])
	// At most 18 digits: DuckDB compares a DECIMAL with another number in a common DECIMAL of at
	// most 38 digits, converting each row's value, and a value too long for it fails the query
	// only when that row arrives — an answer about the data (third error-oracle probe). With 18,
	// any column or constant (BIGINT's 19 digits included) fits beside any other.
	return p >= 1 && p <= MaxDecimalDigits && sc <= p
}

// MaxDecimalDigits is the widest DECIMAL a spec may declare; the query analyser holds constants
// to the same bound.
const MaxDecimalDigits = 18

// OrgKinds are the kinds of controlling organisation.
var OrgKinds = []string{"gp", "acute", "community", "mental_health", "local_authority", "vcse", "national"}

// LoadSpec reads and validates a spec file.
func LoadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "Cannot open the dataset spec.")
	}
	defer f.Close()
	return ReadSpec(f)
}

// ReadSpec decodes and validates a spec; unknown fields are an error so typos are caught.
func ReadSpec(r io.Reader) (*Spec, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, sde.Wrap(err, sde.EINVALID, "The dataset spec is not valid JSON: %s.", safeJSONError(err))
	}
	if dec.More() {
		return nil, sde.Errorf(sde.EINVALID, "The dataset spec has text after its closing brace.")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func safeJSONError(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "json: ")
}

// Validate checks the spec is internally consistent.
func (s *Spec) Validate() error {
	bad := func(format string, args ...any) error {
		return sde.Errorf(sde.EINVALID, "Dataset spec %q: %s.", s.Name, fmt.Sprintf(format, args...))
	}
	if !identRe.MatchString(string(s.Name)) {
		return sde.Errorf(sde.EINVALID, "Dataset spec: name %q must be lower-case letters, digits and underscores.", s.Name)
	}
	if s.Controller.Code == "" || s.Controller.Name == "" {
		return bad("controller code and name are required")
	}
	if s.Controller.Kind != "" && !slices.Contains(OrgKinds, s.Controller.Kind) {
		return bad("controller kind %q is not one of %s", s.Controller.Kind, strings.Join(OrgKinds, ", "))
	}
	if len(s.Columns) == 0 {
		return bad("no columns")
	}
	cols := map[string]*Column{}
	for i := range s.Columns {
		c := &s.Columns[i]
		if !identRe.MatchString(c.Name) {
			return bad("column name %q must be lower-case letters, digits and underscores", c.Name)
		}
		if c.Name == "person_id" {
			return bad("column name person_id is reserved for the pseudonym")
		}
		if cols[c.Name] != nil {
			return bad("column %q is listed twice", c.Name)
		}
		if !SupportedType(c.Type) {
			return bad("column %q has unsupported type %q", c.Name, c.Type)
		}
		cols[c.Name] = c
	}
	if s.Person.Column == "" && (s.Person.Kind != "" || s.Person.Required) {
		return bad("person kind or required is set but no person column is named")
	}
	if s.Person.Column != "" {
		pc := cols[s.Person.Column]
		if pc == nil {
			return bad("person column %q is not among the columns", s.Person.Column)
		}
		if s.Person.Kind != "nhs_number" {
			return bad("person identifier kind %q is not supported (use nhs_number)", s.Person.Kind)
		}
		if pc.Type != "VARCHAR" {
			return bad("person column %q must be VARCHAR so leading zeros survive", s.Person.Column)
		}
	}
	dropped := map[string]bool{}
	for _, d := range s.Drop {
		if cols[d] == nil {
			return bad("dropped column %q is not among the columns", d)
		}
		if d == s.Person.Column {
			return bad("the person column is pseudonymised, not dropped")
		}
		dropped[d] = true
	}
	// Output names must be unique among everything stored, and must not reuse an input column's
	// name (a reader would take a generalised value for the original).
	outputs := map[string]bool{"person_id": true}
	for _, c := range s.Columns {
		if !dropped[c.Name] && c.Name != s.Person.Column {
			outputs[c.Name] = true
		}
	}
	generalised := map[string]bool{}
	for _, g := range s.Generalise {
		if generalised[g.Column] {
			return bad("column %q is generalised twice", g.Column)
		}
		generalised[g.Column] = true
		c := cols[g.Column]
		if c == nil {
			return bad("generalised column %q is not among the columns", g.Column)
		}
		want, ok := methods[g.Method]
		if !ok {
			return bad("unknown generalisation %q for column %q", g.Method, g.Column)
		}
		if c.Type != want {
			return bad("generalisation %q needs a %s column, %q is %s", g.Method, want, g.Column, c.Type)
		}
		if dropped[g.Column] || g.Column == s.Person.Column {
			return bad("column %q cannot be both generalised and dropped or pseudonymised", g.Column)
		}
		if out := g.OutputName(); out != g.Column {
			if !identRe.MatchString(out) || outputs[out] || cols[out] != nil {
				return bad("generalised output name %q is invalid or clashes", out)
			}
			delete(outputs, g.Column)
			outputs[out] = true
		}
	}
	return nil
}

// OutputName is the name of the stored, generalised column.
func (g Generalisation) OutputName() string {
	if g.Output != "" {
		return g.Output
	}
	return g.Column
}

// Column returns the named column or nil.
func (s *Spec) Column(name string) *Column {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return &s.Columns[i]
		}
	}
	return nil
}

// StoredColumns lists the columns a dataset ingested under this spec has, in order: person_id
// for the person column, each generalised column under its output name and type, and dropped
// identifiers left out. These are the columns agreements and workspaces may name.
func (s *Spec) StoredColumns() []StoredColumn {
	gen := map[string]Generalisation{}
	for _, g := range s.Generalise {
		gen[g.Column] = g
	}
	var cols []StoredColumn
	if s.Person.Column != "" {
		cols = append(cols, StoredColumn{Name: "person_id", Type: "VARCHAR", Description: "Linkage pseudonym of the person (keyed hash of the NHS number); NULL when the source row had none."})
	}
	for _, c := range s.Columns {
		if c.Name == s.Person.Column || slices.Contains(s.Drop, c.Name) {
			continue
		}
		g, ok := gen[c.Name]
		if !ok {
			cols = append(cols, StoredColumn{Name: c.Name, Type: c.Type, Description: c.Description})
			continue
		}
		t, d := "VARCHAR", ""
		switch g.Method {
		case "month":
			t, d = "DATE", "Generalised to the first day of the month."
		case "year":
			t, d = "DATE", "Generalised to the first day of the year."
		case "age_band_5", "age_band_10":
			d = "Generalised to an age band (" + strings.TrimPrefix(g.Method, "age_band_") + " years) on the reference date in the lineage."
		case "district":
			d = "Generalised to the postcode district."
		case "sector":
			d = "Generalised to the postcode sector."
		}
		cols = append(cols, StoredColumn{Name: g.OutputName(), Type: t, Description: strings.TrimSpace(c.Description + " " + d)})
	}
	return cols
}
