package store

import (
	"slices"
	"sync"
	"time"

	"github.com/opensde/sde/sde"
)

// wsCache keeps workspaces as read from the store, keyed by the generation they were read at.
//
// Loading a workspace reads eight tables, ≈ 0.5 ms in SQLite, and a query loads its workspace
// three times (access, ledger, the release's re-check). Migration 0008 gives the store a
// generation that triggers set to a random number, in the same transaction, with any change to
// those tables, whoever makes it. A transaction reads the generation of its own snapshot first,
// so a kept copy is used only when it is exactly what that snapshot holds. A write transaction
// may keep what it read of its own changes: if it commits, that is what the generation means;
// if it rolls back, no snapshot ever sees that generation. Callers get copies and may change
// them.
type wsCache struct {
	mu sync.Mutex
	m  map[sde.WorkspaceID]wsKept
}

type wsKept struct {
	gen int64
	rec *wsRecord
}

// maxKept bounds the cache; past it, it starts again.
const maxKept = 1024

func (c *wsCache) get(id sde.WorkspaceID, gen int64) (*wsRecord, bool) {
	c.mu.Lock()
	k, ok := c.m[id]
	c.mu.Unlock()
	if !ok || k.gen != gen {
		return nil, false
	}
	return k.rec.clone(), true
}

func (c *wsCache) put(id sde.WorkspaceID, gen int64, rec *wsRecord) {
	rec = rec.clone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxKept {
		c.m = map[sde.WorkspaceID]wsKept{}
	}
	c.m[id] = wsKept{gen, rec}
}

// clone copies r so that nothing in the copy shares memory with r.
func (r *wsRecord) clone() *wsRecord {
	c := *r
	ws := *r.ws
	ws.Datasets = cloneScopes(ws.Datasets)
	ws.Members = slices.Clone(ws.Members)
	ws.Approvals = slices.Clone(ws.Approvals)
	for i := range ws.Approvals {
		ws.Approvals[i].At = cloneTime(ws.Approvals[i].At)
	}
	ws.ActivateAt, ws.ArchivedAt = cloneTime(ws.ActivateAt), cloneTime(ws.ArchivedAt)
	c.ws = &ws
	if r.ag != nil {
		ag := *r.ag
		ag.Parties = slices.Clone(ag.Parties)
		ag.Datasets = cloneScopes(ag.Datasets)
		ag.Signatures = slices.Clone(ag.Signatures)
		ag.Policy = slices.Clone(ag.Policy)
		ag.RevokedAt = cloneTime(ag.RevokedAt)
		c.ag = &ag
	}
	return &c
}

func cloneScopes(s []sde.DatasetScope) []sde.DatasetScope {
	s = slices.Clone(s)
	for i := range s {
		s[i].Columns = slices.Clone(s[i].Columns)
	}
	return s
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}
