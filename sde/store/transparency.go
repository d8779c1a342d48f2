package store

import (
	"context"
	"database/sql"

	"github.com/opensde/sde/sde"
)

// TransparencyService implements sde.TransparencyService.
type TransparencyService struct{ s *Store }

var _ sde.TransparencyService = (*TransparencyService)(nil)

// Transparency needs no caller: it holds nothing that is not meant for the public.
func (ts *TransparencyService) Transparency(ctx context.Context) (*sde.Transparency, error) {
	now := ts.s.Now()
	t := &sde.Transparency{GeneratedAt: now, Organisations: []sde.Organisation{}, Agreements: []sde.PublicAgreement{}, Workspaces: []sde.PublicWorkspace{}}
	err := ts.s.read(ctx, func(tx *sql.Tx) error {
		orgs, err := loadEach(ctx, tx, "SELECT code FROM organisations ORDER BY code", func(code string) (*sde.Organisation, error) {
			return loadOrganisation(ctx, tx, sde.OrgCode(code))
		})
		if err != nil {
			return err
		}
		for _, o := range orgs {
			t.Organisations = append(t.Organisations, *o)
		}
		ags, err := allAgreements(ctx, tx)
		if err != nil {
			return err
		}
		for _, a := range ags {
			// Drafts awaiting signatures are not yet anyone's commitment.
			if len(a.Unsigned()) > 0 && a.RevokedAt == nil {
				continue
			}
			pa := sde.PublicAgreement{ID: a.ID, Title: a.Title, LawfulBasisArt6: a.LawfulBasisArt6, ConditionArt9: a.ConditionArt9,
				PurposeCategory: a.PurposeCategory, Purpose: a.Purpose, Parties: a.Parties, ReviewDate: a.ReviewDate, Expiry: a.Expiry, State: a.StateAt(now)}
			for _, d := range a.Datasets {
				pa.Datasets = append(pa.Datasets, d.Dataset)
			}
			t.Agreements = append(t.Agreements, pa)
		}
		recs, err := allWorkspaces(ctx, tx, ts.s)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			ws := rec.ws
			if ws.ActivateAt == nil {
				continue // never approved: a request is not a use of data
			}
			pw := sde.PublicWorkspace{Name: ws.Name, Purpose: ws.Purpose, Agreement: ws.Agreement, State: ws.State, EndDate: ws.EndDate}
			for _, d := range ws.Datasets {
				pw.Datasets = append(pw.Datasets, d.Dataset)
			}
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM releases WHERE workspace_id = ? AND status = 'released'", ws.ID).Scan(&pw.ReleasedOutputs); err != nil {
				return err
			}
			t.Workspaces = append(t.Workspaces, pw)
		}
		return nil
	})
	return t, err
}
