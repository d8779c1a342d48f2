package store

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"

	"github.com/opensde/sde/sde"
)

// The kept copy of a workspace must follow every committed change, whoever makes it: here a
// second process (another Store on the same file) and a plain SQL connection that knows nothing
// of the cache, as an operator's sqlite3 session would be.
func TestKeptWorkspaceFollowsEveryWriter(t *testing.T) {
	st, c, dir := open(t)
	ctx := context.Background()
	if err := DevSeed(ctx, st); err != nil {
		t.Fatal(err)
	}
	analyst := as(t, "analyst1")
	use := func() error {
		_, _, err := st.Workspaces.Use(analyst, DevWorkspace, sde.RoleAnalyst)
		return err
	}
	wantCode(t, "use before", use(), "")
	wantCode(t, "use again (kept copy)", use(), "")

	other, err := Open(ctx, dir, Options{Now: c.Now, ReviewPeriod: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.w.ExecContext(ctx, "UPDATE memberships SET confirmed_at = NULL WHERE user_id = 'analyst1'"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "use after another writer removed the confirmation", use(), sde.EFORBIDDEN)

	if _, err := other.w.ExecContext(ctx, "UPDATE memberships SET confirmed_at = added_at WHERE user_id = 'analyst1'"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "use after it was restored", use(), "")
	ws, err := st.Workspaces.Get(analyst, DevWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if m := member(ws, "analyst1"); m == nil || m.ConfirmedAt.IsZero() {
		t.Fatalf("membership after restore: %+v", m)
	}
	// Time moves without any write: lapses are derived on every read, not kept.
	c.Advance(31 * day)
	wantCode(t, "use after the review period", use(), sde.EFORBIDDEN)
}

// A write transaction that reads its own change and then rolls back leaves nothing behind for
// later reads, kept copies included.
func TestRolledBackReadIsNotKept(t *testing.T) {
	st, _ := seeded(t)
	ctx := context.Background()
	errUndo := errors.New("undo")
	err := st.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE workspaces SET archived_at = created_at, archive_reason = 'test' WHERE id = ?", DevWorkspace); err != nil {
			return err
		}
		rec, err := loadWorkspace(ctx, tx, st, DevWorkspace)
		if err != nil {
			return err
		}
		if rec.ws.State != sde.WorkspaceArchived {
			t.Errorf("inside the transaction: %s", rec.ws.State)
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		ws, err := st.Workspaces.Get(as(t, "analyst1"), DevWorkspace)
		if err != nil || ws.State != sde.WorkspaceActive {
			t.Fatalf("after rollback: %v %+v", err, ws)
		}
	}
}

// Callers may change what they get; nothing they change may reach the kept copy. fill sets every
// field, so a field added later that clone forgot fails here.
func TestWorkspaceCloneSharesNothing(t *testing.T) {
	ws, ag := &sde.Workspace{}, &sde.Agreement{}
	fill(reflect.ValueOf(ws).Elem())
	fill(reflect.ValueOf(ag).Elem())
	r := &wsRecord{ws: ws, ag: ag, storedState: "s", archiveReason: "r"}
	c := r.clone()
	if !reflect.DeepEqual(r, c) {
		t.Fatalf("clone differs:\n%+v\n%+v", r, c)
	}
	shared(t, "ws", reflect.ValueOf(r.ws).Elem(), reflect.ValueOf(c.ws).Elem())
	shared(t, "ag", reflect.ValueOf(r.ag).Elem(), reflect.ValueOf(c.ag).Elem())
}

// fill gives every field of v a non-zero value: one-element slices, non-nil pointers.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			v.Set(reflect.ValueOf(t0))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint8:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}

// shared fails if a and b (equal values) share any slice array, pointer target or map.
func shared(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if a.Type().Field(i).IsExported() {
				shared(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	case reflect.Slice, reflect.Pointer, reflect.Map:
		if !a.IsNil() && a.UnsafePointer() == b.UnsafePointer() {
			t.Errorf("%s is shared between the kept copy and the caller's", path)
		}
		if a.Kind() == reflect.Slice {
			for i := 0; i < a.Len(); i++ {
				shared(t, path+"[]", a.Index(i), b.Index(i))
			}
		} else if a.Kind() == reflect.Pointer && !a.IsNil() {
			shared(t, path+"*", a.Elem(), b.Elem())
		}
	}
}
