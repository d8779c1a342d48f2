// Package vdir keeps immutable, numbered versions of named things in directories
// (ROOT/NAME/vNNNNNN), each written in a staging area and published by one rename under a
// per-name lock, so a reader sees a whole version or none and a crash leaves nothing visible.
package vdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"

	"github.com/opensde/sde/sde"
)

// Root is a directory of versioned things; the locks and staging areas are inside it.
type Root string

var versionRe = regexp.MustCompile(`^v(\d{6})$`)

// Open creates the root and its .locks and .staging directories. Callers must check that names
// are safe path elements before using them here.
func Open(dir string) (Root, error) {
	for _, d := range []string{dir, filepath.Join(dir, ".locks"), filepath.Join(dir, ".staging")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return "", sde.Wrap(err, sde.EINTERNAL, "Cannot create the data directory.")
		}
	}
	return Root(dir), nil
}

// Dir is the directory of one version.
func (r Root) Dir(name string, version int) string {
	return filepath.Join(string(r), name, fmt.Sprintf("v%06d", version))
}

// Versions lists a name's published versions, oldest first.
func (r Root) Versions(name string) ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(string(r), name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the data directory.")
	}
	var vs []int
	for _, e := range entries {
		if m := versionRe.FindStringSubmatch(e.Name()); m != nil && e.IsDir() {
			v, _ := strconv.Atoi(m[1])
			vs = append(vs, v)
		}
	}
	sort.Ints(vs)
	return vs, nil
}

// Next is the version number the next publication of name gets.
func (r Root) Next(name string) (int, error) {
	vs, err := r.Versions(name)
	if err != nil || len(vs) == 0 {
		return 1, err
	}
	return vs[len(vs)-1] + 1, nil
}

// Lock takes an exclusive lock on name, so two writers never race for a version number, and
// removes staging directories a crash left behind. It does not wait: busy is ECONFLICT with
// the given message.
func (r Root) Lock(name, busy string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(string(r), ".locks", name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot take a lock in the data directory.")
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, sde.Wrap(err, sde.ECONFLICT, "%s", busy)
	}
	stale, _ := filepath.Glob(filepath.Join(string(r), ".staging", name+"-*"))
	for _, s := range stale {
		os.RemoveAll(s)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Draft is a version being written: files go into Dir, and Publish makes them version Version.
type Draft struct {
	Version int
	Dir     string
	root    Root
	name    string
}

// Begin starts the next version of name in a new, empty staging directory. Hold name's Lock
// from before Begin until after Publish, and defer Discard.
func (r Root) Begin(name string) (*Draft, error) {
	version, err := r.Next(name)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the existing versions.")
	}
	d, err := os.MkdirTemp(filepath.Join(string(r), ".staging"), name+"-")
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create a staging directory.")
	}
	return &Draft{Version: version, Dir: d, root: r, name: name}, nil
}

// Discard removes the staging directory of a draft that was not published; after Publish
// there is nothing left to remove, so it is safe to defer.
func (d *Draft) Discard() {
	os.RemoveAll(d.Dir)
}

// Publish makes the fully written files the new version in one rename, after syncing them
// and making them read-only. Files in Dir not listed are published too; callers check first.
func (d *Draft) Publish(files []string) error {
	for _, f := range files {
		p := filepath.Join(d.Dir, f)
		if err := syncFile(p); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o440); err != nil {
			return err
		}
	}
	if err := syncDir(d.Dir); err != nil {
		return err
	}
	final := d.root.Dir(d.name, d.Version)
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return err
	}
	if err := os.Rename(d.Dir, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

// WriteFileSync writes a file and fsyncs it.
func WriteFileSync(path string, b []byte) error {
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

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
