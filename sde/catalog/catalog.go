package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/vdir"
)

// Catalog is the set of immutable dataset versions under DATA/datasets. A version is a directory
// DATA/datasets/NAME/vNNNNNN holding data.duckdb, spec.json and lineage.json; it becomes visible
// in one atomic rename, so a failed or interrupted ingest leaves no version behind.
type Catalog struct {
	dir  string
	root vdir.Root
}

// Lineage describes where a dataset version came from. It is stored as lineage.json beside the
// data and as the _lineage table inside it.
type Lineage struct {
	Dataset     sde.DatasetName `json:"dataset"`
	Version     int             `json:"version"`
	Title       string          `json:"title"`
	Controller  Organisation    `json:"controller"`
	CreatedAt   time.Time       `json:"created_at"`
	CreatedBy   string          `json:"created_by,omitempty"`
	Source      SourceInfo      `json:"source"`
	SpecSHA256  string          `json:"spec_sha256"`
	Key         string          `json:"pseudonym_key,omitempty"` // key and pinned version; empty when the dataset has no person column
	ReferenceAt string          `json:"reference_date"`          // date age bands were computed at
	Rows        RowCounts       `json:"rows"`
	Persons     int64           `json:"distinct_persons"`
	LinkageRate float64         `json:"linkage_rate"` // share of stored rows that carry a person pseudonym
	Reasons     []ReasonCount   `json:"quarantine_reasons,omitempty"`
	Columns     []StoredColumn  `json:"columns"`
	DurationMS  int64           `json:"duration_ms"`
}

// SourceInfo identifies the input file without recording where it was on disk.
type SourceInfo struct {
	Name   string `json:"name"`   // base name only
	Format string `json:"format"` // csv, parquet, arrow
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// RowCounts are the ingest's row totals: In = OK + Quarantined, always.
type RowCounts struct {
	In          int64 `json:"in"`
	OK          int64 `json:"ok"`
	Quarantined int64 `json:"quarantined"`
	Linked      int64 `json:"linked"`
}

// ReasonCount counts quarantined rows by reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Rows   int64  `json:"rows"`
}

// StoredColumn is a column of the stored dataset.
type StoredColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

var versionDirRe = regexp.MustCompile(`^v(\d{6})$`)

// Open opens (creating if needed) the catalogue under dataDir. Locks and staging areas live in
// fixed directories created here, so a failed ingest of a new dataset leaves no trace.
func Open(dataDir string) (*Catalog, error) {
	dir := filepath.Join(dataDir, "datasets")
	root, err := vdir.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Catalog{dir: dir, root: root}, nil
}

// Datasets lists the datasets that have at least one version, with their latest lineage.
func (c *Catalog) Datasets() ([]Lineage, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the catalogue.")
	}
	var out []Lineage
	for _, e := range entries {
		if !e.IsDir() || !identRe.MatchString(e.Name()) {
			continue
		}
		l, err := c.Latest(sde.DatasetName(e.Name()))
		if sde.ErrorCode(err) == sde.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, *l)
	}
	return out, nil
}

// Versions lists a dataset's visible versions, oldest first.
func (c *Catalog) Versions(name sde.DatasetName) ([]int, error) {
	if !identRe.MatchString(string(name)) {
		return nil, sde.Errorf(sde.EINVALID, "Invalid dataset name.")
	}
	return c.root.Versions(string(name))
}

// Latest returns the lineage of the newest version of a dataset.
func (c *Catalog) Latest(name sde.DatasetName) (*Lineage, error) {
	vs, err := c.Versions(name)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, sde.Errorf(sde.ENOTFOUND, "Dataset %q has no versions.", name)
	}
	return c.Lineage(name, vs[len(vs)-1])
}

// Lineage reads one version's lineage.
func (c *Catalog) Lineage(name sde.DatasetName, version int) (*Lineage, error) {
	b, err := os.ReadFile(filepath.Join(c.VersionDir(name, version), "lineage.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, sde.Errorf(sde.ENOTFOUND, "Dataset %q has no version %d.", name, version)
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the catalogue.")
	}
	var l Lineage
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "The catalogue entry for %q is damaged.", name)
	}
	return &l, nil
}

// VersionDir is the directory of one version.
func (c *Catalog) VersionDir(name sde.DatasetName, version int) string {
	return c.root.Dir(string(name), version)
}

// DataFile is the DuckDB file of one version; open it read-only.
func (c *Catalog) DataFile(name sde.DatasetName, version int) string {
	return filepath.Join(c.VersionDir(name, version), "data.duckdb")
}

// lockDataset takes an exclusive lock on a dataset so two ingests never race for a version
// number; it also removes staging directories an earlier crash left behind.
func (c *Catalog) lockDataset(name sde.DatasetName) (unlock func(), err error) {
	return c.root.Lock(string(name), fmt.Sprintf("Another ingest of %q is in progress; try again when it has finished.", name))
}
