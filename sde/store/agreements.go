package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opensde/sde/disclosure"
	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/sqlrows"
)

var (
	// UK GDPR Article 6(1)(a)–(f) and Article 9(2)(a)–(j); free text may follow the reference.
	art6Re = regexp.MustCompile(`^6\(1\)\([a-f]\)`)
	art9Re = regexp.MustCompile(`^9\(2\)\([a-j]\)`)
)

// AgreementService implements sde.AgreementService.
type AgreementService struct{ s *Store }

var _ sde.AgreementService = (*AgreementService)(nil)

// asController returns EFORBIDDEN unless p may act for their organisation as its controller.
// Administrators never do, even if also given the controller role: running the service must not
// be a way to approve access to data.
func asController(p *sde.Principal, what string) error {
	if !p.Has(sde.RoleController) || p.Organisation == "" {
		return sde.Errorf(sde.EFORBIDDEN, "Only a data controller may %s.", what)
	}
	if p.Has(sde.RoleAdmin) {
		return sde.Errorf(sde.EFORBIDDEN, "Administrators may not %s.", what)
	}
	return nil
}

// Create records a new, unsigned agreement. The caller must be a controller of one of the parties.
func (as *AgreementService) Create(ctx context.Context, a *sde.Agreement) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := asController(p, "create an agreement"); err != nil {
		return err
	}
	now := as.s.Now()
	if err := validateAgreement(a, now); err != nil {
		return err
	}
	if !slices.Contains(a.Parties, p.Organisation) {
		return sde.Errorf(sde.EFORBIDDEN, "Only a controller of a participating organisation may create an agreement.")
	}
	if a.ID == "" {
		a.ID = sde.AgreementID(sde.NewID("agr-"))
	}
	a.CreatedBy, a.CreatedAt = p.User, now
	a.Signatures, a.RevokedAt, a.RevokedBy, a.RevokeReason = nil, nil, "", ""
	return as.s.write(ctx, func(tx *sql.Tx) error {
		if dup, err := exists(ctx, tx, "SELECT 1 FROM agreements WHERE id = ?", a.ID); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "An agreement with id %s already exists.", a.ID)
		}
		for _, org := range a.Parties {
			if ok, err := exists(ctx, tx, "SELECT 1 FROM organisations WHERE code = ?", org); err != nil {
				return err
			} else if !ok {
				return sde.Errorf(sde.EINVALID, "Unknown organisation %q.", org)
			}
		}
		for i, sc := range a.Datasets {
			d, err := loadDataset(ctx, tx, sc.Dataset)
			if sde.ErrorCode(err) == sde.ENOTFOUND {
				return sde.Errorf(sde.EINVALID, "Unknown dataset %q.", sc.Dataset)
			} else if err != nil {
				return err
			}
			if !slices.Contains(a.Parties, d.Controller) {
				return sde.Errorf(sde.EINVALID, "Dataset %s is controlled by %s, which is not a party to the agreement.", d.Name, d.Controller)
			}
			if err := checkColumns(d, sc.Columns, nil); err != nil {
				return err
			}
			a.Datasets[i].Columns = slices.Clone(sc.Columns)
		}
		var policy any
		if len(a.Policy) > 0 {
			policy = string(a.Policy)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO agreements (id, title, lawful_basis_art6, condition_art9, purpose_category,
			purpose, escalation_route, review_date, expiry, policy, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, a.Title, a.LawfulBasisArt6, a.ConditionArt9, a.PurposeCategory, a.Purpose, a.EscalationRoute,
			ts(a.ReviewDate), ts(a.Expiry), policy, a.CreatedBy, ts(a.CreatedAt)); err != nil {
			return err
		}
		for _, org := range a.Parties {
			if _, err := tx.ExecContext(ctx, "INSERT INTO agreement_parties (agreement_id, organisation) VALUES (?, ?)", a.ID, org); err != nil {
				return err
			}
		}
		for _, sc := range a.Datasets {
			cols := sc.Columns
			if cols == nil {
				cols = []string{}
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO agreement_datasets (agreement_id, dataset, columns) VALUES (?, ?, ?)", a.ID, sc.Dataset, toJSON(cols)); err != nil {
				return err
			}
		}
		a.State = a.StateAt(now)
		return nil
	})
}

// validateAgreement checks the fields that need no database, naming every missing one at once.
func validateAgreement(a *sde.Agreement, now time.Time) error {
	if a.ID != "" && !identRe.MatchString(string(a.ID)) {
		return sde.Errorf(sde.EINVALID, "An agreement id is lower-case letters, digits, '-' or '_', starting with a letter.")
	}
	for _, f := range []*string{&a.Title, &a.LawfulBasisArt6, &a.ConditionArt9, &a.PurposeCategory, &a.Purpose, &a.EscalationRoute} {
		*f = strings.TrimSpace(*f)
	}
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{
		{"title", a.Title == ""},
		{"lawful basis under UK GDPR Article 6", a.LawfulBasisArt6 == ""},
		{"condition under UK GDPR Article 9", a.ConditionArt9 == ""},
		{"purpose category", a.PurposeCategory == ""},
		{"purpose", a.Purpose == ""},
		{"participating organisations", len(a.Parties) == 0},
		{"datasets in scope", len(a.Datasets) == 0},
		{"escalation route", a.EscalationRoute == ""},
		{"review date", a.ReviewDate.IsZero()},
		{"expiry", a.Expiry.IsZero()},
	} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return sde.Errorf(sde.EINVALID, "The agreement is missing: %s.", strings.Join(missing, ", "))
	}
	switch {
	case !art6Re.MatchString(a.LawfulBasisArt6):
		return sde.Errorf(sde.EINVALID, "The Article 6 lawful basis must cite 6(1)(a) to 6(1)(f), e.g. \"6(1)(e) public task\".")
	case !art9Re.MatchString(a.ConditionArt9):
		return sde.Errorf(sde.EINVALID, "The Article 9 condition must cite 9(2)(a) to 9(2)(j), e.g. \"9(2)(h) health or social care\".")
	case a.PurposeCategory != sde.PurposeDirectCare && a.PurposeCategory != sde.PurposePlanning && a.PurposeCategory != sde.PurposeResearch:
		return sde.Errorf(sde.EINVALID, "The purpose category must be direct_care, planning or research.")
	case !a.Expiry.After(now):
		return sde.Errorf(sde.EINVALID, "The expiry must be in the future.")
	case !a.ReviewDate.After(now):
		return sde.Errorf(sde.EINVALID, "The review date must be in the future.")
	case a.ReviewDate.After(a.Expiry):
		return sde.Errorf(sde.EINVALID, "The review date must not be after the expiry.")
	}
	a.ReviewDate, a.Expiry = a.ReviewDate.UTC(), a.Expiry.UTC()
	seen := map[sde.OrgCode]bool{}
	for _, o := range a.Parties {
		if seen[o] {
			return sde.Errorf(sde.EINVALID, "Organisation %s is listed twice.", o)
		}
		seen[o] = true
	}
	seenDS := map[sde.DatasetName]bool{}
	for _, d := range a.Datasets {
		if seenDS[d.Dataset] {
			return sde.Errorf(sde.EINVALID, "Dataset %s is listed twice.", d.Dataset)
		}
		seenDS[d.Dataset] = true
	}
	if len(bytes.TrimSpace(a.Policy)) == 0 || bytes.Equal(bytes.TrimSpace(a.Policy), []byte("null")) {
		a.Policy = nil
		return nil
	}
	return checkStricter(a)
}

// checkStricter accepts a disclosure-policy override only if it is valid and at least as strict
// as the default in every rule: an agreement may tighten disclosure control, never loosen it.
func checkStricter(a *sde.Agreement) error {
	pol, err := disclosure.ParsePolicy(a.Policy)
	if err != nil {
		return sde.Wrap(err, sde.EINVALID, "The disclosure policy override is not valid: %s.", strings.TrimPrefix(err.Error(), disclosure.ErrPolicy.Error()+": "))
	}
	strict := disclosure.Strictest(pol, disclosure.DefaultPolicy())
	norm := func(p disclosure.Policy) disclosure.Policy {
		if p.Protection == 0 {
			p.Protection = float64(p.Threshold) // what the engine uses when unset
		}
		p.Refuse = slices.Sorted(slices.Values(p.Refuse))
		return p
	}
	if !reflect.DeepEqual(norm(pol), norm(strict)) {
		return sde.Errorf(sde.EINVALID, "The disclosure policy override may only make the default rules stricter.")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, a.Policy); err != nil {
		return sde.Errorf(sde.EINVALID, "The disclosure policy override is not valid JSON.")
	}
	a.Policy = compact.Bytes()
	return nil
}

// checkColumns verifies cols are columns of d and, when allowed is non-nil and non-empty, within it.
func checkColumns(d *sde.Dataset, cols, allowed []string) error {
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c] {
			return sde.Errorf(sde.EINVALID, "Column %s.%s is listed twice.", d.Name, c)
		}
		seen[c] = true
		if !slices.Contains(d.Columns, c) {
			return sde.Errorf(sde.EINVALID, "Dataset %s has no column %q.", d.Name, c)
		}
		if len(allowed) > 0 && !slices.Contains(allowed, c) {
			return sde.Errorf(sde.EINVALID, "Column %s.%s is not covered by the agreement.", d.Name, c)
		}
	}
	return nil
}

const agreementCols = `id, title, lawful_basis_art6, condition_art9, purpose_category, purpose, escalation_route,
	review_date, expiry, policy, created_by, created_at, revoked_at, revoked_by, revoke_reason`

func loadAgreement(ctx context.Context, tx *sql.Tx, id sde.AgreementID) (*sde.Agreement, error) {
	a := &sde.Agreement{}
	var review, expiry, created string
	var policy, revokedAt, revokedBy, reason sql.NullString
	err := tx.QueryRowContext(ctx, "SELECT "+agreementCols+" FROM agreements WHERE id = ?", id).Scan(
		&a.ID, &a.Title, &a.LawfulBasisArt6, &a.ConditionArt9, &a.PurposeCategory, &a.Purpose, &a.EscalationRoute,
		&review, &expiry, &policy, &a.CreatedBy, &created, &revokedAt, &revokedBy, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No agreement %q.", id)
	} else if err != nil {
		return nil, err
	}
	a.ReviewDate, a.Expiry, a.CreatedAt = parseTS(review), parseTS(expiry), parseTS(created)
	if policy.Valid {
		a.Policy = json.RawMessage(policy.String)
	}
	a.RevokedAt, a.RevokedBy, a.RevokeReason = parseNullTS(revokedAt), sde.UserID(revokedBy.String), reason.String

	if err := sqlrows.Each(ctx, tx, func(r *sql.Rows) error {
		var o sde.OrgCode
		err := r.Scan(&o)
		a.Parties = append(a.Parties, o)
		return err
	}, "SELECT organisation FROM agreement_parties WHERE agreement_id = ? ORDER BY organisation", id); err != nil {
		return nil, err
	}

	if a.Datasets, err = loadScopes(ctx, tx, "agreement_datasets", "agreement_id", string(id)); err != nil {
		return nil, err
	}

	err = sqlrows.Each(ctx, tx, func(r *sql.Rows) error {
		var s sde.Signature
		var at string
		if err := r.Scan(&s.Organisation, &s.User, &at); err != nil {
			return err
		}
		s.At = parseTS(at)
		a.Signatures = append(a.Signatures, s)
		return nil
	}, "SELECT organisation, user_id, at FROM signatures WHERE agreement_id = ? ORDER BY at, organisation", id)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Get returns an agreement to any signed-in user.
func (as *AgreementService) Get(ctx context.Context, id sde.AgreementID) (*sde.Agreement, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var a *sde.Agreement
	err := as.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = loadAgreement(ctx, tx, id)
		return err
	})
	if a != nil {
		a.State = a.StateAt(as.s.Now())
	}
	return a, err
}

// List returns every agreement, oldest first, to any signed-in user.
func (as *AgreementService) List(ctx context.Context) ([]*sde.Agreement, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var out []*sde.Agreement
	now := as.s.Now()
	err := as.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = allAgreements(ctx, tx)
		return err
	})
	for _, a := range out {
		a.State = a.StateAt(now)
	}
	return out, err
}

// allAgreements loads every agreement, oldest first.
func allAgreements(ctx context.Context, tx *sql.Tx) ([]*sde.Agreement, error) {
	return loadEach(ctx, tx, "SELECT id FROM agreements ORDER BY created_at, id", func(id string) (*sde.Agreement, error) {
		return loadAgreement(ctx, tx, sde.AgreementID(id))
	})
}

// Sign records the caller's organisation's signature. The agreement comes into force with the
// last party's signature; workspaces waiting only for that become active.
func (as *AgreementService) Sign(ctx context.Context, id sde.AgreementID) (*sde.Agreement, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := asController(p, "sign an agreement"); err != nil {
		return nil, err
	}
	now := as.s.Now()
	var a *sde.Agreement
	err = as.s.write(ctx, func(tx *sql.Tx) error {
		a, err = loadAgreement(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(a.Parties, p.Organisation) {
			return sde.Errorf(sde.EFORBIDDEN, "Only a controller of a participating organisation may sign the agreement.")
		}
		switch a.StateAt(now) {
		case sde.AgreementRevoked:
			return sde.Errorf(sde.ECONFLICT, "The agreement has been revoked.")
		case sde.AgreementExpired:
			return sde.Errorf(sde.ECONFLICT, "The agreement has expired.")
		}
		if slices.ContainsFunc(a.Signatures, func(s sde.Signature) bool { return s.Organisation == p.Organisation }) {
			return sde.Errorf(sde.ECONFLICT, "%s has already signed the agreement.", p.Organisation)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO signatures (agreement_id, organisation, user_id, at) VALUES (?, ?, ?, ?)",
			id, p.Organisation, p.User, ts(now)); err != nil {
			return err
		}
		a.Signatures = append(a.Signatures, sde.Signature{Organisation: p.Organisation, User: p.User, At: now})
		_, err := syncAgreementWorkspaces(ctx, tx, as.s, id, p.User)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.State = a.StateAt(now)
	return a, nil
}

// Revoke ends the agreement for good; every workspace under it is suspended at once.
func (as *AgreementService) Revoke(ctx context.Context, id sde.AgreementID, reason string) (*sde.Agreement, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := asController(p, "revoke an agreement"); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, sde.Errorf(sde.EINVALID, "Give a reason for revoking the agreement.")
	}
	now := as.s.Now()
	var a *sde.Agreement
	err = as.s.write(ctx, func(tx *sql.Tx) error {
		a, err = loadAgreement(ctx, tx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(a.Parties, p.Organisation) {
			return sde.Errorf(sde.EFORBIDDEN, "Only a controller of a participating organisation may revoke the agreement.")
		}
		if a.RevokedAt != nil {
			return sde.Errorf(sde.ECONFLICT, "The agreement has already been revoked.")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE agreements SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
			ts(now), p.User, reason, id); err != nil {
			return err
		}
		a.RevokedAt, a.RevokedBy, a.RevokeReason = &now, p.User, reason
		_, err := syncAgreementWorkspaces(ctx, tx, as.s, id, p.User)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.State = a.StateAt(now)
	return a, nil
}

// loadScopes reads the datasets and columns of an agreement or a workspace from table, whose
// owner column is key.
func loadScopes(ctx context.Context, tx *sql.Tx, table, key, id string) ([]sde.DatasetScope, error) {
	var out []sde.DatasetScope
	err := sqlrows.Each(ctx, tx, func(r *sql.Rows) error {
		var sc sde.DatasetScope
		var cols string
		if err := r.Scan(&sc.Dataset, &cols); err != nil {
			return err
		}
		out = append(out, sc)
		return json.Unmarshal([]byte(cols), &out[len(out)-1].Columns)
	}, "SELECT dataset, columns FROM "+table+" WHERE "+key+" = ? ORDER BY dataset", id)
	return out, err
}
