package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/catalog"
	"github.com/opensde/sde/sde/sqlrows"
)

var (
	orgCodeRe = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{1,15}$`)
	userIDRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)
	// identRe is for names that appear in URLs and per-workspace key derivation.
	identRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// OrgKinds are the kinds of organisation: the dataset controllers' kinds plus the ICB, which
// commissions analysis and employs analysts.
var OrgKinds = append([]string{"icb"}, catalog.OrgKinds...)

// OrganisationService implements sde.OrganisationService.
type OrganisationService struct{ s *Store }

var _ sde.OrganisationService = (*OrganisationService)(nil)

// Register adds an organisation; administrators only.
func (svc *OrganisationService) Register(ctx context.Context, o *sde.Organisation) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := requireRole(p, sde.RoleAdmin, "register organisations"); err != nil {
		return err
	}
	o.Name = strings.TrimSpace(o.Name)
	switch {
	case !orgCodeRe.MatchString(string(o.Code)):
		return sde.Errorf(sde.EINVALID, "An organisation code is 2 to 16 capital letters, digits, '-' or '_'.")
	case o.Name == "":
		return sde.Errorf(sde.EINVALID, "The organisation needs a name.")
	case !slices.Contains(OrgKinds, o.Kind):
		return sde.Errorf(sde.EINVALID, "The organisation kind must be one of %s.", strings.Join(OrgKinds, ", "))
	}
	o.CreatedAt = svc.s.Now()
	return svc.s.write(ctx, func(tx *sql.Tx) error {
		if dup, err := exists(ctx, tx, "SELECT 1 FROM organisations WHERE code = ? OR name = ?", o.Code, o.Name); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "An organisation with code %s or that name already exists.", o.Code)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO organisations (code, name, kind, created_at) VALUES (?, ?, ?, ?)",
			o.Code, o.Name, o.Kind, ts(o.CreatedAt))
		return err
	})
}

// Get returns an organisation to any signed-in user.
func (svc *OrganisationService) Get(ctx context.Context, code sde.OrgCode) (*sde.Organisation, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var o *sde.Organisation
	err := svc.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		o, err = loadOrganisation(ctx, tx, code)
		return err
	})
	return o, err
}

func loadOrganisation(ctx context.Context, tx *sql.Tx, code sde.OrgCode) (*sde.Organisation, error) {
	o := &sde.Organisation{}
	var created string
	err := tx.QueryRowContext(ctx, "SELECT code, name, kind, created_at FROM organisations WHERE code = ?", code).
		Scan(&o.Code, &o.Name, &o.Kind, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No organisation %s.", code)
	} else if err != nil {
		return nil, err
	}
	o.CreatedAt = parseTS(created)
	return o, nil
}

// List returns every organisation to any signed-in user.
func (svc *OrganisationService) List(ctx context.Context) ([]*sde.Organisation, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var out []*sde.Organisation
	err := svc.s.read(ctx, func(tx *sql.Tx) error {
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			o := &sde.Organisation{}
			var created string
			if err := rows.Scan(&o.Code, &o.Name, &o.Kind, &created); err != nil {
				return err
			}
			o.CreatedAt = parseTS(created)
			out = append(out, o)
			return nil
		}, "SELECT code, name, kind, created_at FROM organisations ORDER BY code")
	})
	return out, err
}

// PersonService implements sde.PersonService.
type PersonService struct{ s *Store }

var _ sde.PersonService = (*PersonService)(nil)

// Register adds a person; administrators only.
func (ps *PersonService) Register(ctx context.Context, person *sde.Person) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := requireRole(p, sde.RoleAdmin, "register people"); err != nil {
		return err
	}
	person.Name = strings.TrimSpace(person.Name)
	switch {
	case !userIDRe.MatchString(string(person.ID)):
		return sde.Errorf(sde.EINVALID, "A user id is 1 to 128 letters, digits or . _ @ + -.")
	case person.Name == "":
		return sde.Errorf(sde.EINVALID, "The person needs a name.")
	case len(person.Roles) == 0:
		return sde.Errorf(sde.EINVALID, "The person needs at least one role.")
	}
	for _, r := range person.Roles {
		if !slices.Contains(sde.Roles, r) {
			return sde.Errorf(sde.EINVALID, "Unknown role %q.", r)
		}
	}
	person.Roles = slices.Compact(slices.Sorted(slices.Values(person.Roles)))
	person.CreatedAt = ps.s.Now()
	return ps.s.write(ctx, func(tx *sql.Tx) error {
		if ok, err := exists(ctx, tx, "SELECT 1 FROM organisations WHERE code = ?", person.Organisation); err != nil {
			return err
		} else if !ok {
			return sde.Errorf(sde.EINVALID, "Unknown organisation %q.", person.Organisation)
		}
		if dup, err := exists(ctx, tx, "SELECT 1 FROM people WHERE id = ?", person.ID); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "A person with id %s already exists.", person.ID)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO people (id, name, email, organisation, roles, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			person.ID, person.Name, person.Email, person.Organisation, toJSON(person.Roles), ts(person.CreatedAt))
		return err
	})
}

const personCols = "id, name, email, organisation, roles, created_at"

func scanPerson(sc interface{ Scan(...any) error }) (*sde.Person, error) {
	p := &sde.Person{}
	var roles, created string
	if err := sc.Scan(&p.ID, &p.Name, &p.Email, &p.Organisation, &roles, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &p.Roles); err != nil {
		return nil, err
	}
	p.CreatedAt = parseTS(created)
	return p, nil
}

func loadPerson(ctx context.Context, tx *sql.Tx, id sde.UserID) (*sde.Person, error) {
	p, err := scanPerson(tx.QueryRowContext(ctx, "SELECT "+personCols+" FROM people WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No person %s.", id)
	}
	return p, err
}

// Get returns a person to any signed-in user.
func (ps *PersonService) Get(ctx context.Context, id sde.UserID) (*sde.Person, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var p *sde.Person
	err := ps.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = loadPerson(ctx, tx, id)
		return err
	})
	return p, err
}

// List returns everyone to any signed-in user (requesters choose members from it).
func (ps *PersonService) List(ctx context.Context) ([]*sde.Person, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var out []*sde.Person
	err := ps.s.read(ctx, func(tx *sql.Tx) error {
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			p, err := scanPerson(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		}, "SELECT "+personCols+" FROM people ORDER BY id")
	})
	return out, err
}

// DatasetService implements sde.DatasetService.
type DatasetService struct{ s *Store }

var _ sde.DatasetService = (*DatasetService)(nil)

// StoredColumns lists the names of the columns a dataset ingested under spec has (see
// catalog.Spec.StoredColumns): the columns agreements and workspaces may name.
func StoredColumns(spec *catalog.Spec) []string {
	var cols []string
	for _, c := range spec.StoredColumns() {
		cols = append(cols, c.Name)
	}
	return cols
}

// Register adds a dataset from its spec; administrators only. The spec must be valid for
// sde/catalog, its controller a registered organisation, and d.Name and d.Controller (when set)
// must agree with it.
func (ds *DatasetService) Register(ctx context.Context, d *sde.Dataset) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if err := requireRole(p, sde.RoleAdmin, "register datasets"); err != nil {
		return err
	}
	if len(d.Spec) == 0 {
		return sde.Errorf(sde.EINVALID, "The dataset needs its spec.")
	}
	spec, err := catalog.ReadSpec(bytes.NewReader(d.Spec))
	if err != nil {
		return err
	}
	switch {
	case d.Name != "" && d.Name != spec.Name:
		return sde.Errorf(sde.EINVALID, "The dataset name %q does not match its spec's name %q.", d.Name, spec.Name)
	case d.Controller != "" && d.Controller != spec.Controller.Code:
		return sde.Errorf(sde.EINVALID, "The controller %s does not match the spec's controller %s.", d.Controller, spec.Controller.Code)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, d.Spec); err != nil {
		return sde.Errorf(sde.EINVALID, "The dataset spec is not valid JSON.")
	}
	d.Name, d.Controller = spec.Name, spec.Controller.Code
	d.Title, d.Description = spec.Title, spec.Description
	d.Columns = StoredColumns(spec)
	d.Spec = compact.Bytes()
	d.RegisteredBy, d.RegisteredAt = p.User, ds.s.Now()
	return ds.s.write(ctx, func(tx *sql.Tx) error {
		if ok, err := exists(ctx, tx, "SELECT 1 FROM organisations WHERE code = ?", d.Controller); err != nil {
			return err
		} else if !ok {
			return sde.Errorf(sde.EINVALID, "The controlling organisation %s is not registered.", d.Controller)
		}
		if dup, err := exists(ctx, tx, "SELECT 1 FROM datasets WHERE name = ?", d.Name); err != nil {
			return err
		} else if dup {
			return sde.Errorf(sde.ECONFLICT, "A dataset named %s is already registered.", d.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO datasets (name, title, description, controller, columns, spec, registered_by, registered_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Name, d.Title, d.Description, d.Controller, toJSON(d.Columns), string(d.Spec), d.RegisteredBy, ts(d.RegisteredAt))
		return err
	})
}

const datasetCols = "name, title, description, controller, columns, spec, registered_by, registered_at"

func scanDataset(sc interface{ Scan(...any) error }) (*sde.Dataset, error) {
	d := &sde.Dataset{}
	var cols, spec, at string
	if err := sc.Scan(&d.Name, &d.Title, &d.Description, &d.Controller, &cols, &spec, &d.RegisteredBy, &at); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cols), &d.Columns); err != nil {
		return nil, err
	}
	d.Spec = json.RawMessage(spec)
	d.RegisteredAt = parseTS(at)
	return d, nil
}

func loadDataset(ctx context.Context, tx *sql.Tx, name sde.DatasetName) (*sde.Dataset, error) {
	d, err := scanDataset(tx.QueryRowContext(ctx, "SELECT "+datasetCols+" FROM datasets WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sde.Errorf(sde.ENOTFOUND, "No dataset %q.", name)
	}
	return d, err
}

// Get returns a catalogue entry to any signed-in user.
func (ds *DatasetService) Get(ctx context.Context, name sde.DatasetName) (*sde.Dataset, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var d *sde.Dataset
	err := ds.s.read(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = loadDataset(ctx, tx, name)
		return err
	})
	return d, err
}

// List is the catalogue, for any signed-in user.
func (ds *DatasetService) List(ctx context.Context) ([]*sde.Dataset, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	var out []*sde.Dataset
	err := ds.s.read(ctx, func(tx *sql.Tx) error {
		return sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			d, err := scanDataset(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
			return nil
		}, "SELECT "+datasetCols+" FROM datasets ORDER BY name")
	})
	return out, err
}

// Usage reports a dataset's use to a controller of its organisation or an administrator.
func (ds *DatasetService) Usage(ctx context.Context, name sde.DatasetName) (*sde.DatasetUsage, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	out := &sde.DatasetUsage{Dataset: name, Workspaces: []sde.WorkspaceUsage{}}
	err = ds.s.read(ctx, func(tx *sql.Tx) error {
		d, err := loadDataset(ctx, tx, name)
		if err != nil {
			return err
		}
		if !p.Has(sde.RoleAdmin) && !(p.Has(sde.RoleController) && p.Organisation == d.Controller) {
			return sde.Errorf(sde.EFORBIDDEN, "Only data controllers of the organisation that controls %q see its usage.", name)
		}
		err = sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
			var u sde.WorkspaceUsage
			var approval sql.NullString
			if err := rows.Scan(&u.Workspace, &u.Name, &u.State, &approval); err != nil {
				return err
			}
			u.Approval, u.Users = approval.String, []sde.UserUsage{}
			out.Workspaces = append(out.Workspaces, u)
			return nil
		}, `SELECT w.id, w.name, w.state, a.decision FROM workspace_datasets wd
			JOIN workspaces w ON w.id = wd.workspace_id
			LEFT JOIN approvals a ON a.workspace_id = wd.workspace_id AND a.dataset = wd.dataset
			WHERE wd.dataset = ? ORDER BY w.id`, name)
		if err != nil {
			return err
		}
		for i := range out.Workspaces {
			u := &out.Workspaces[i]
			err := sqlrows.Each(ctx, tx, func(rows *sql.Rows) error {
				var uu sde.UserUsage
				if err := rows.Scan(&uu.User, &uu.Queries, &uu.Releases); err != nil {
					return err
				}
				u.Users = append(u.Users, uu)
				u.Queries += uu.Queries
				u.Releases += uu.Releases
				return nil
			}, `SELECT user_id, sum(q), sum(r) FROM (
					SELECT user_id, 1 AS q, 0 AS r FROM queries WHERE workspace_id = ?
					UNION ALL
					SELECT user_id, 0, 1 FROM releases WHERE workspace_id = ? AND status = 'released')
				GROUP BY user_id ORDER BY user_id`, u.Workspace, u.Workspace)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
