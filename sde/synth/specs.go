package synth

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/opensde/sde/sde"
)

//go:embed specs/*.json
var specFS embed.FS

// SpecFile is the embedded dataset spec (sde/catalog format) of one synthetic source.
type SpecFile struct {
	Name string // dataset name, e.g. "gp_events"
	File string // the CSV Generate writes, e.g. "gp_events.csv"
	JSON []byte
}

// Specs returns the dataset specs of all synthetic sources, in the order the sources are written.
// Ingest and `serve --dev` read them with catalog.ReadSpec.
func Specs() []SpecFile {
	out := make([]SpecFile, nFiles)
	for i, n := range datasetNames {
		data, err := specFS.ReadFile("specs/" + n + ".json")
		if err != nil {
			panic("synth: missing embedded spec " + n) // caught by the tests
		}
		out[i] = SpecFile{Name: n, File: n + ".csv", JSON: data}
	}
	return out
}

// specDoc mirrors the parts of catalog.Spec the dictionary needs, so this package does not
// depend on the catalogue (and its database) just to describe its own files.
type specDoc struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Controller  struct {
		Code string `json:"code"`
		Name string `json:"name"`
		Kind string `json:"kind"`
	} `json:"controller"`
	Person struct {
		Column   string `json:"column"`
		Kind     string `json:"kind"`
		Required bool   `json:"required"`
	} `json:"person"`
	Drop       []string `json:"drop"`
	Generalise []struct {
		Column string `json:"column"`
		Method string `json:"method"`
		Output string `json:"output"`
	} `json:"generalise"`
	Columns []struct {
		Name        string `json:"name"`
		Type        string `json:"type"`
		Description string `json:"description"`
		Required    bool   `json:"required"`
	} `json:"columns"`
}

type dictColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Required    bool   `json:"required"`
	Ingest      string `json:"ingest"`
	Description string `json:"description"`
}

type dictDataset struct {
	Name        string       `json:"name"`
	File        string       `json:"file"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Controller  dictOrg      `json:"controller"`
	Rows        int64        `json:"rows"`
	DirtyRows   int64        `json:"dirty_rows"`
	Columns     []dictColumn `json:"columns"`
}

type dictDoc struct {
	Title         string        `json:"title"`
	Generator     string        `json:"generator"`
	ICS           string        `json:"ics"`
	Seed          uint64        `json:"seed"`
	People        int           `json:"people"`
	ReferenceDate string        `json:"reference_date"`
	WindowStart   string        `json:"window_start"`
	Notes         []string      `json:"notes"`
	DirtyData     []string      `json:"dirty_data"`
	Organisations []dictOrg     `json:"organisations"`
	Datasets      []dictDataset `json:"datasets"`
	CodeLists     []codeList    `json:"code_lists"`
}

type codeList struct {
	Name    string     `json:"name"`
	Columns string     `json:"columns"` // where the codes appear
	Codes   []codeItem `json:"codes"`
}

type codeItem struct {
	Code    string `json:"code"`
	Meaning string `json:"meaning"`
}

func codeLists() []codeList {
	eth := codeList{Name: "Ethnicity (ONS 2021 census categories)", Columns: "patients.ethnicity (group in patients.ethnic_group)"}
	for _, e := range ethnicities {
		eth.Codes = append(eth.Codes, codeItem{e.code, e.label + " [" + e.group + "]"})
	}
	cond := codeList{Name: "Long-term conditions", Columns: "gp_events.condition, gp_events.snomed_code; hospital_admissions.primary_diagnosis_icd10 for exacerbations"}
	for _, c := range conditions {
		var m []string
		for _, cd := range c.codes {
			m = append(m, "SNOMED "+cd.code+" "+cd.term)
		}
		cond.Codes = append(cond.Codes, codeItem{c.key, strings.Join(m, "; ") + "; ICD-10 " + c.icd10 + ", " + c.icdAlt})
	}
	obs := codeList{Name: "Observations", Columns: "gp_events.snomed_code, gp_events.value, gp_events.unit"}
	for _, o := range observations {
		obs.Codes = append(obs.Codes, codeItem{o.code, o.term + " (" + o.unit + ")"})
	}
	return []codeList{eth, cond, obs}
}

type dictOrg struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// ingestTreatment says what ingest does to a column, from the spec.
func ingestTreatment(s *specDoc, col string) string {
	if col == s.Person.Column {
		return "pseudonymised to person_id"
	}
	for _, d := range s.Drop {
		if d == col {
			return "dropped (direct identifier)"
		}
	}
	for _, g := range s.Generalise {
		if g.Column == col {
			out := g.Output
			if out == "" {
				out = col
			}
			return "generalised (" + g.Method + ") to " + out
		}
	}
	return "kept"
}

func dictionary(sum Summary) (md, js []byte, err error) {
	w := newWorld(sum.Seed, sum.People)
	doc := dictDoc{
		Title:         "Synthetic data dictionary: " + ICSName,
		Generator:     "sde synth",
		ICS:           ICSName,
		Seed:          sum.Seed,
		People:        sum.People,
		ReferenceDate: ReferenceDate,
		WindowStart:   WindowStart,
		Notes: []string{
			"All people, organisations, codes and places are invented. Same seed and number of people give byte-identical files.",
			fmt.Sprintf("Geography: %d synthetic LSOAs (E019xxxxx, about %d people each) nested in %d MSOAs (E029xxxxx, %d LSOAs each); postcodes use the non-existent area RV (district from the MSOA, sector from the LSOA).",
				w.nLSOA, PeoplePerLSOA, w.nMSOA, LSOAsPerMSOA),
			fmt.Sprintf("Primary care: %d GP practices (Y9xxxx, about %d registered people each) in %d primary care networks (U9xxxx, %d practices each).",
				w.nPrac, PeoplePerPractice, (w.nPrac+PracticesPerPCN-1)/PracticesPerPCN, PracticesPerPCN),
			"CSV: UTF-8, comma-separated, one header row, no quoting needed (no value contains a comma or quote), empty field = missing, dates YYYY-MM-DD, money in pounds with two decimals.",
			"Events fall in the window " + WindowStart + " .. " + ReferenceDate + "; dates of birth, registration starts and diagnosis dates (from " + "2000-01-01" + ") can be earlier. Ages are as of the reference date.",
			fmt.Sprintf("gp_events has about 10 rows per registered person on average (%s in this run): every diagnosis on a long-term-condition register plus blood pressure, BMI and HbA1c observations.", perPerson(sum)),
			"NHS numbers are ten digits starting with 9 (outside the range issued to real patients) with a valid Modulus 11 check digit, except in the deliberately invalid rows below.",
		},
		DirtyData: []string{
			fmt.Sprintf("About %.1f%% of rows in every event source (all sources except patients and opt_outs) are deliberately invalid so ingest's quarantine has something to show. dirty_rows per dataset counts them.", DirtyRate*100),
			"Half of them (when the row has an NHS number) carry an NHS number whose check digit is wrong.",
			"The other half carry a malformed value in the dataset's main date column (event_date, admission_date, arrival_date, contact_date, start_date): an impossible 30 February (YYYY-02-30), a UK-style DD/MM/YYYY date, or month 13 (YYYY-13-DD), in equal shares.",
			"Missing NHS numbers in social_care (about 15% of clients) and vcse_contacts (about 40%) are realistic, not dirty: those rows are kept unlinked.",
		},
	}
	doc.CodeLists = codeLists()
	for _, o := range Organisations {
		doc.Organisations = append(doc.Organisations, dictOrg(o))
	}
	for i, sf := range Specs() {
		var s specDoc
		if err := json.Unmarshal(sf.JSON, &s); err != nil {
			return nil, nil, sde.Wrap(err, sde.EINTERNAL, "An embedded dataset spec is invalid.")
		}
		d := dictDataset{Name: s.Name, File: sf.File, Title: s.Title, Description: s.Description,
			Controller: dictOrg{s.Controller.Code, s.Controller.Name, s.Controller.Kind},
			Rows:       sum.Files[i].Rows, DirtyRows: sum.Files[i].DirtyRows}
		for _, c := range s.Columns {
			d.Columns = append(d.Columns, dictColumn{Name: c.Name, Type: c.Type, Required: c.Required,
				Ingest: ingestTreatment(&s, c.Name), Description: c.Description})
		}
		doc.Datasets = append(doc.Datasets, d)
	}
	js, err = json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, nil, sde.Wrap(err, sde.EINTERNAL, "Cannot write the data dictionary.")
	}
	js = append(js, '\n')
	return renderMarkdown(&doc), js, nil
}

func perPerson(sum Summary) string {
	if sum.People == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(sum.Files[fGPEvents].Rows)/float64(sum.People), 'f', 2, 64)
}

func renderMarkdown(d *dictDoc) []byte {
	var b bytes.Buffer
	esc := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	fmt.Fprintf(&b, "# %s\n\nGenerated by `%s --seed %d --people %d`. Reference date %s; window %s .. %s.\n\n",
		d.Title, d.Generator, d.Seed, d.People, d.ReferenceDate, d.WindowStart, d.ReferenceDate)
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n## Deliberately invalid rows\n\n")
	for _, n := range d.DirtyData {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n## Organisations\n\n| code | name | kind |\n|---|---|---|\n")
	for _, o := range d.Organisations {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", o.Code, esc(o.Name), o.Kind)
	}
	b.WriteString("\n## Datasets\n\n| dataset | file | controller | rows | invalid rows |\n|---|---|---|---:|---:|\n")
	for _, s := range d.Datasets {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s (%s) | %d | %d |\n", s.Name, s.Name, s.File, esc(s.Controller.Name), s.Controller.Code, s.Rows, s.DirtyRows)
	}
	for _, s := range d.Datasets {
		fmt.Fprintf(&b, "\n### %s\n\n**%s.** %s\n\nController: %s (%s, %s). File `%s`, %d rows.\n\n",
			s.Name, s.Title, s.Description, s.Controller.Name, s.Controller.Code, s.Controller.Kind, s.File, s.Rows)
		b.WriteString("| column | type | required | at ingest | description |\n|---|---|---|---|---|\n")
		for _, c := range s.Columns {
			req := ""
			if c.Required {
				req = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.Name, c.Type, req, c.Ingest, esc(c.Description))
		}
	}
	b.WriteString("\n## Code lists\n")
	for _, l := range d.CodeLists {
		fmt.Fprintf(&b, "\n### %s\n\nUsed in %s.\n\n| code | meaning |\n|---|---|\n", l.Name, l.Columns)
		for _, c := range l.Codes {
			fmt.Fprintf(&b, "| %s | %s |\n", c.Code, esc(c.Meaning))
		}
	}
	return b.Bytes()
}
