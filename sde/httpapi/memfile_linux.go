package httpapi

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/opensde/sde/sde"
)

// memFile returns an anonymous memory-backed file and a path DuckDB can open it by. Uploads
// hold raw identifiers, which must never reach disk; a memfd lives only in RAM (this service
// should run without swap, or with encrypted swap).
func memFile(name string) (*os.File, string, error) {
	fd, err := unix.MemfdCreate("sde-upload-"+name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, "", sde.Wrap(err, sde.EUNAVAILABLE, "The service cannot accept uploads right now.")
	}
	return os.NewFile(uintptr(fd), "upload"), fmt.Sprintf("/proc/self/fd/%d", fd), nil
}
