package vdir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opensde/sde/sde"
)

// A draft becomes the next version, read-only, in one step; a discarded draft leaves nothing.
func TestDraftPublishAndDiscard(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock("ds", "busy")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock("ds", "busy"); sde.ErrorCode(err) != sde.ECONFLICT {
		t.Errorf("second lock = %v, want a conflict", err)
	}

	publish := func(content string) int {
		d, err := r.Begin("ds")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Discard()
		if err := WriteFileSync(filepath.Join(d.Dir, "data"), []byte(content)); err != nil {
			t.Fatal(err)
		}
		if err := d.Publish([]string{"data"}); err != nil {
			t.Fatal(err)
		}
		return d.Version
	}
	if v1, v2 := publish("one"), publish("two"); v1 != 1 || v2 != 2 {
		t.Errorf("versions %d, %d; want 1, 2", v1, v2)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir("ds", 1), "data"))
	if err != nil || string(b) != "one" {
		t.Errorf("version 1 = %q, %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(r.Dir("ds", 2), "data")); err != nil || st.Mode().Perm() != 0o440 {
		t.Errorf("published file mode = %v, %v; want read-only 0440", st.Mode(), err)
	}

	d, err := r.Begin("ds")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFileSync(filepath.Join(d.Dir, "data"), []byte("half")); err != nil {
		t.Fatal(err)
	}
	d.Discard()
	if vs, _ := r.Versions("ds"); !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("versions after a discarded draft = %v", vs)
	}
	if left, _ := os.ReadDir(filepath.Join(string(r), ".staging")); len(left) != 0 {
		t.Errorf("staging not cleaned: %v", left)
	}
	unlock()

	// A crash leaves a staging directory behind; the next Lock removes it.
	if _, err := r.Begin("ds"); err != nil {
		t.Fatal(err)
	}
	unlock, err = r.Lock("ds", "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if left, _ := os.ReadDir(filepath.Join(string(r), ".staging")); len(left) != 0 {
		t.Errorf("stale staging not removed by Lock: %v", left)
	}
}
