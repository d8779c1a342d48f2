package sde

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorHidesCause(t *testing.T) {
	cause := errors.New("open /var/lib/sde/secret: permission denied")
	err := fmt.Errorf("ingest: %w", Wrap(cause, EUNAVAILABLE, "The key service is unavailable."))
	if got := ErrorCode(err); got != EUNAVAILABLE {
		t.Fatalf("code = %q", got)
	}
	if got := ErrorMessage(err); got != "The key service is unavailable." {
		t.Fatalf("message = %q", got)
	}
	plain := errors.New("/etc/passwd")
	if ErrorCode(plain) != EINTERNAL || ErrorMessage(plain) != "Internal error." {
		t.Fatalf("plain error leaked: %q %q", ErrorCode(plain), ErrorMessage(plain))
	}
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Fatal("nil error should have no code or message")
	}
}
