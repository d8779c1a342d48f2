//go:build !linux

package httpapi

import (
	"os"

	"github.com/opensde/sde/sde"
)

// memFile needs Linux's memfd: elsewhere uploads are refused rather than spooled to disk.
func memFile(name string) (*os.File, string, error) {
	return nil, "", sde.Errorf(sde.EUNAVAILABLE, "Uploads need the Linux build of the service.")
}
