package query

import (
	"context"
	"testing"

	"github.com/opensde/sde/sde"
)

// TestAdmitPerUser: each person has MaxRunning places; one person's full count does not stop
// another's queries, and a finished query gives its place back.
func TestAdmitPerUser(t *testing.T) {
	s := &Service{MaxRunning: 2}
	as := func(u sde.UserID) context.Context {
		return sde.WithPrincipal(context.Background(), &sde.Principal{User: u, Roles: []sde.Role{sde.RoleAnalyst}})
	}
	var dones []func()
	for range 2 {
		done, err := s.admit(as("a"))
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	if _, err := s.admit(as("a")); sde.ErrorCode(err) != sde.ETOOMANY {
		t.Fatalf("third query of a: %v", err)
	}
	done, err := s.admit(as("b"))
	if err != nil {
		t.Fatalf("b held up by a: %v", err)
	}
	done()
	dones[0]()
	if _, err := s.admit(as("a")); err != nil {
		t.Fatalf("after one of a's finished: %v", err)
	}
	if _, err := s.admit(context.Background()); sde.ErrorCode(err) != sde.EUNAUTHORIZED {
		t.Fatalf("no caller: %v", err)
	}
	if (&Service{}).admitLimit() != DefaultMaxRunning {
		t.Errorf("default limit %d", (&Service{}).admitLimit())
	}
}
