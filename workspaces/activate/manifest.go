package activate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/vdir"
)

// File names inside a workspace version directory DIR/<ws>/vNNNNNN.
const (
	DatabaseFile = "workspace.duckdb"
	ManifestFile = "manifest.json"
)

// Manifest records what one activation put into a workspace database and why, so the counts can
// be shown on the workspace and an auditor can tie every table to the dataset version it came from.
type Manifest struct {
	Workspace sde.WorkspaceID `json:"workspace"`
	Version   int             `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	// Purpose is the agreement's purpose category; it decided whether the opt-out applied.
	Purpose string `json:"purpose"`
	// RekeyKey names the key workspace pseudonyms were derived with (empty if the rekeyer does not
	// say and the caller did not either).
	RekeyKey string `json:"rekey_key,omitempty"`
	// LinkageKey is the linkage pseudonym key of the source datasets (they all share it).
	LinkageKey string            `json:"linkage_key,omitempty"`
	OptOut     OptOut            `json:"opt_out"`
	Datasets   []DatasetManifest `json:"datasets"`
	Totals     Totals            `json:"totals"`
	DurationMS int64             `json:"duration_ms"`
}

// OptOut says whether the national data opt-out was applied and what it removed.
type OptOut struct {
	Applied bool `json:"applied"`
	// Register is the opt-out dataset and version used; empty when not applied.
	Register        sde.DatasetName `json:"register,omitempty"`
	RegisterVersion int             `json:"register_version,omitempty"`
	RegisterSHA256  string          `json:"register_source_sha256,omitempty"`
	// PersonsRemoved counts distinct people of the approved datasets who are in the register.
	PersonsRemoved int64 `json:"persons_removed"`
	RowsRemoved    int64 `json:"rows_removed"`
}

// DatasetManifest is one table of the workspace database.
type DatasetManifest struct {
	Dataset       sde.DatasetName `json:"dataset"`
	Table         string          `json:"table"`
	SourceVersion int             `json:"source_version"`
	SourceSHA256  string          `json:"source_sha256"`
	SpecSHA256    string          `json:"spec_sha256"`
	LinkageKey    string          `json:"linkage_key,omitempty"`
	Columns       []Column        `json:"columns"`
	Rows          Rows            `json:"rows"`
	// Persons counts distinct people with rows in the table (after the opt-out).
	Persons int64 `json:"distinct_persons"`
	// Unique lists a lookup table's columns whose values are all different (NULLs aside): a
	// join on one of them matches at most one row, so it cannot multiply an analyst's rows.
	Unique []string `json:"unique_columns,omitempty"`
}

// Column is a column of a workspace table.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Rows are a table's row counts: In = RemovedOptOut + Stored, always. Unlinked rows (no
// person_id) are part of Stored: they cannot be matched against the register.
type Rows struct {
	In            int64 `json:"in"`
	RemovedOptOut int64 `json:"removed_opt_out"`
	Stored        int64 `json:"stored"`
	Unlinked      int64 `json:"unlinked"`
}

// Totals sum the tables; Persons is distinct across all of them.
type Totals struct {
	RowsIn      int64 `json:"rows_in"`
	RowsRemoved int64 `json:"rows_removed_opt_out"`
	RowsStored  int64 `json:"rows_stored"`
	Persons     int64 `json:"distinct_persons"`
}

// wsRe is the store's rule for workspace names (and ids); it also keeps ids safe as path
// elements.
var wsRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

func checkWorkspace(ws sde.WorkspaceID) error {
	if !wsRe.MatchString(string(ws)) {
		return sde.Errorf(sde.EINVALID, "Invalid workspace id.")
	}
	return nil
}

// VersionDir is the directory of one version of a workspace database.
func VersionDir(dir string, ws sde.WorkspaceID, version int) string {
	return vdir.Root(dir).Dir(string(ws), version)
}

// Versions lists a workspace's published versions, oldest first.
func Versions(dir string, ws sde.WorkspaceID) ([]int, error) {
	if err := checkWorkspace(ws); err != nil {
		return nil, err
	}
	return vdir.Root(dir).Versions(string(ws))
}

// Latest returns the manifest of a workspace's newest database and the path of its DuckDB file
// (open it read-only).
func Latest(dir string, ws sde.WorkspaceID) (*Manifest, string, error) {
	vs, err := Versions(dir, ws)
	if err != nil {
		return nil, "", err
	}
	if len(vs) == 0 {
		return nil, "", sde.Errorf(sde.ENOTFOUND, "Workspace %q has not been activated.", ws)
	}
	vd := VersionDir(dir, ws, vs[len(vs)-1])
	b, err := os.ReadFile(filepath.Join(vd, ManifestFile))
	if err != nil {
		return nil, "", sde.Wrap(err, sde.EINTERNAL, "The database of workspace %q cannot be read.", ws)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", sde.Wrap(err, sde.EINTERNAL, "The database of workspace %q is damaged.", ws)
	}
	if m.Workspace != ws || m.Version != vs[len(vs)-1] {
		return nil, "", sde.Wrap(fmt.Errorf("%s: manifest says %s v%d", vd, m.Workspace, m.Version), sde.EINTERNAL,
			"The database of workspace %q is damaged.", ws)
	}
	return &m, filepath.Join(vd, DatabaseFile), nil
}
