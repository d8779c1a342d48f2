package httpapi

import (
	"errors"
	"testing"

	"github.com/opensde/sde/sde"
	"github.com/opensde/sde/sde/audit"
	"github.com/opensde/sde/sde/httperr"
)

// The REST API decides an audit outcome by status class; Flight and ingest jobs by error code
// through audit.OutcomeOf. Both must give the same answer for every code.
func TestOutcomeAgreesAcrossFaces(t *testing.T) {
	if audit.OutcomeOf(nil) != audit.OutcomeOK || outcome(200) != audit.OutcomeOK {
		t.Error("success is not ok")
	}
	if audit.OutcomeOf(errors.New("plain")) != audit.OutcomeError {
		t.Error("an untyped error is not an error outcome")
	}
	for _, code := range []string{sde.EINVALID, sde.EUNAUTHORIZED, sde.EFORBIDDEN, sde.ENOTFOUND, sde.ECONFLICT,
		sde.EREFUSED, sde.ETOOLARGE, sde.EUNAVAILABLE, sde.EINTERNAL} {
		rest, other := outcome(httperr.Status(code)), audit.OutcomeOf(sde.Errorf(code, "x"))
		if rest != other {
			t.Errorf("%s: REST records %q, Flight and ingest %q", code, rest, other)
		}
	}
}
