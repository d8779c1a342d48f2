package activate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/opensde/sde/sde"
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

var versionDirRe = regexp.MustCompile(`^v(\d{6})$`)

func checkWorkspace(ws sde.WorkspaceID) error {
	if !wsRe.MatchString(string(ws)) {
		return sde.Errorf(sde.EINVALID, "Invalid workspace id.")
	}
	return nil
}

// VersionDir is the directory of one version of a workspace database.
func VersionDir(dir string, ws sde.WorkspaceID, version int) string {
	return filepath.Join(dir, string(ws), fmt.Sprintf("v%06d", version))
}

// Versions lists a workspace's published versions, oldest first.
func Versions(dir string, ws sde.WorkspaceID) ([]int, error) {
	if err := checkWorkspace(ws); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(dir, string(ws)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the workspace databases.")
	}
	var vs []int
	for _, e := range entries {
		if m := versionDirRe.FindStringSubmatch(e.Name()); m != nil && e.IsDir() {
			v, _ := strconv.Atoi(m[1])
			vs = append(vs, v)
		}
	}
	sort.Ints(vs)
	return vs, nil
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
	vdir := VersionDir(dir, ws, vs[len(vs)-1])
	b, err := os.ReadFile(filepath.Join(vdir, ManifestFile))
	if err != nil {
		return nil, "", sde.Wrap(err, sde.EINTERNAL, "The database of workspace %q cannot be read.", ws)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", sde.Wrap(err, sde.EINTERNAL, "The database of workspace %q is damaged.", ws)
	}
	if m.Workspace != ws || m.Version != vs[len(vs)-1] {
		return nil, "", sde.Wrap(fmt.Errorf("%s: manifest says %s v%d", vdir, m.Workspace, m.Version), sde.EINTERNAL,
			"The database of workspace %q is damaged.", ws)
	}
	return &m, filepath.Join(vdir, DatabaseFile), nil
}

// lock takes an exclusive lock on a workspace so two activations never race for a version
// number, and removes staging directories a crash left behind. Same scheme as the catalogue's
// dataset lock (DATA/datasets/.locks), under DIR/.locks.
func lock(dir string, ws sde.WorkspaceID) (unlock func(), err error) {
	for _, d := range []string{dir, filepath.Join(dir, ".locks"), filepath.Join(dir, ".staging")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create the workspace directory.")
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, ".locks", string(ws)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot lock the workspace.")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, sde.Wrap(err, sde.ECONFLICT, "Workspace %q is already being activated; try again when that has finished.", ws)
	}
	if stale, _ := filepath.Glob(filepath.Join(dir, ".staging", string(ws)+"-*")); len(stale) > 0 {
		for _, s := range stale {
			os.RemoveAll(s)
		}
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// publish makes a fully written staging directory the version directory final in one rename,
// after syncing its files and making them read-only, so readers see a whole version or none.
func publish(staging, final string, files []string) error {
	for _, name := range files {
		p := filepath.Join(staging, name)
		if err := syncFile(p); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o440); err != nil {
			return err
		}
	}
	if err := fsyncDir(staging); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return err
	}
	if err := os.Rename(staging, final); err != nil {
		return err
	}
	return fsyncDir(filepath.Dir(final))
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
