package crypto

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opensde/sde/sde"
)

// KeyringFile is the name of the key file inside the keyring directory.
const KeyringFile = "keyring.json"

const (
	keyringFormat = 1
	keySize       = 32
)

// keyringData is the on-disk form of the keyring. Keys are versioned and never removed, so a
// dataset pinned to an old version can always be re-derived.
type keyringData struct {
	Format    int        `json:"format"`
	Linkage   []keyEntry `json:"linkage"`   // HMAC keys for linkage pseudonyms
	Workspace []keyEntry `json:"workspace"` // master secrets for per-workspace rekeying (HKDF input)
	Signing   []keyEntry `json:"signing"`   // Ed25519 seeds for release signatures
}

type keyEntry struct {
	Version int       `json:"version"`
	Key     []byte    `json:"key"` // base64 in JSON
	Created time.Time `json:"created"`
}

// Keyring is the local key store for the embedded default (no Vault): a 0600 JSON file in a 0700
// directory. A *Keyring is a Pseudonymiser pinned to one linkage key version; Rotate adds versions
// without changing what an existing *Keyring computes.
type Keyring struct {
	path   string
	mu     *sync.Mutex // shared by all views of the same file; guards data and file writes
	data   *keyringData
	pinned int
	id     string // fingerprint of the pinned key
	pool   *hmacPool
}

var _ Pseudonymiser = (*Keyring)(nil)

// OpenKeyring opens the keyring in dir, creating the directory (0700) and a key file (0600)
// with fresh random keys on first start. The returned Keyring is pinned to the latest linkage key
// version; use Pinned to get one pinned to the version recorded with a dataset. A key file that
// group or others can read is refused: the linkage key is what keeps pseudonyms from being
// reversed by anyone who can enumerate NHS numbers.
func OpenKeyring(dir string) (*Keyring, error) {
	if dir == "" {
		return nil, sde.Errorf(sde.EINVALID, "The local keyring directory is not configured.")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring directory cannot be created.")
	}
	// Others who can write the directory can swap the key file for one they know.
	if st, err := os.Stat(dir); err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring directory cannot be read.")
	} else if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return nil, sde.Wrap(fmt.Errorf("%s has mode %04o", dir, perm), sde.EINVALID,
			"The local keyring directory is writable by other users; restrict it to its owner (mode 0700).")
	}
	path := filepath.Join(dir, KeyringFile)
	data, err := readKeyring(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createKeyring(path)
	}
	if err != nil {
		return nil, err
	}
	k := &Keyring{path: path, mu: new(sync.Mutex), data: data}
	return k.pin(data.latestLinkage())
}

func readKeyring(path string) (*keyringData, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring cannot be read.")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring cannot be read.")
	}
	if !st.Mode().IsRegular() {
		return nil, sde.Wrap(fmt.Errorf("%s is not a regular file", path), sde.EINVALID,
			"The local keyring is not a regular file.")
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, sde.Wrap(fmt.Errorf("%s has mode %04o", path, perm), sde.EINVALID,
			"The local keyring file is accessible to other users; restrict it to its owner (mode 0600) and consider rotating the keys.")
	}
	var d keyringData
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, sde.Wrap(fmt.Errorf("%s: %w", path, err), sde.EINVALID, "The local keyring is corrupt.")
	}
	if err := d.validate(); err != nil {
		return nil, sde.Wrap(fmt.Errorf("%s: %w", path, err), sde.EINVALID, "The local keyring is corrupt.")
	}
	return &d, nil
}

func (d *keyringData) validate() error {
	if d.Format != keyringFormat {
		return fmt.Errorf("unsupported keyring format %d", d.Format)
	}
	for name, es := range map[string][]keyEntry{"linkage": d.Linkage, "workspace": d.Workspace, "signing": d.Signing} {
		if len(es) == 0 {
			return fmt.Errorf("no %s keys", name)
		}
		for i, e := range es {
			if e.Version != i+1 {
				return fmt.Errorf("%s key %d has version %d", name, i, e.Version)
			}
			if len(e.Key) != keySize {
				return fmt.Errorf("%s key version %d has %d bytes", name, e.Version, len(e.Key))
			}
		}
	}
	return nil
}

func (d *keyringData) latestLinkage() int { return len(d.Linkage) }

func newKeyEntry(version int) (keyEntry, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return keyEntry{}, err
	}
	return keyEntry{Version: version, Key: k, Created: time.Now().UTC().Truncate(time.Second)}, nil
}

func createKeyring(path string) (*keyringData, error) {
	d := &keyringData{Format: keyringFormat}
	for _, es := range []*[]keyEntry{&d.Linkage, &d.Workspace, &d.Signing} {
		e, err := newKeyEntry(1)
		if err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "Keys cannot be generated.")
		}
		*es = append(*es, e)
	}
	// Link rather than rename, so two processes starting at once cannot both create a key file
	// and hand out pseudonyms under different keys: the loser reads the winner's file.
	err := writeKeyring(path, d, func(tmp string) error { return os.Link(tmp, path) })
	if errors.Is(err, fs.ErrExist) {
		return readKeyring(path)
	}
	if err != nil {
		return nil, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring cannot be written.")
	}
	return d, nil
}

// writeKeyring writes d to a 0600 temporary file in path's directory, syncs it and installs it
// with install, so a crash never leaves a half-written key file.
func writeKeyring(path string, d *keyringData, install func(tmp string) error) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".keyring-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := install(tmp); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

func (k *Keyring) pin(version int) (*Keyring, error) {
	if version < 1 || version > len(k.data.Linkage) {
		return nil, sde.Errorf(sde.EINVALID, "Linkage key version %d does not exist in the local keyring.", version)
	}
	key := k.data.Linkage[version-1].Key
	return &Keyring{path: k.path, mu: k.mu, data: k.data, pinned: version, id: keyFingerprint(key),
		pool: newHMACPool(key)}, nil
}

// Pinned returns a view of the keyring pinned to the given linkage key version, as recorded with
// a dataset (see Version and ParseLocalKey).
func (k *Keyring) Pinned(version int) (*Keyring, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pin(version)
}

// Version is the pinned linkage key version.
func (k *Keyring) Version() int { return k.pinned }

// Latest is the newest linkage key version in the keyring.
func (k *Keyring) Latest() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.data.latestLinkage()
}

// Key names the pinned key, e.g. "local:linkage:1:3f9a0c1e": the version and a fingerprint of the
// key, so datasets pseudonymised under two different keyrings never look alike.
func (k *Keyring) Key() string { return "local:linkage:" + strconv.Itoa(k.pinned) + ":" + k.id }

// keyFingerprint names a key without revealing it: 8 hex digits of a hash of a domain label and
// the key.
func keyFingerprint(key []byte) string {
	sum := sha256.Sum256(append([]byte("sde key fingerprint\x00"), key...))
	return hex.EncodeToString(sum[:4])
}

// ParseLocalKey returns the version from a Key() string of a local keyring.
func ParseLocalKey(key string) (int, error) {
	v, ok := strings.CutPrefix(key, "local:linkage:")
	v, _, _ = strings.Cut(v, ":")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 1 {
		return 0, sde.Errorf(sde.EINVALID, "Not a local linkage key name.")
	}
	return n, nil
}

// Rotate adds a new linkage key version and returns it. Existing views, including k, stay
// pinned to their version, so datasets already written keep their pseudonyms; new datasets pick
// the new version up through Pinned(Latest()) or the next OpenKeyring. Rotation is safe within a
// process; callers must not rotate from two processes at once.
func (k *Keyring) Rotate() (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, err := newKeyEntry(len(k.data.Linkage) + 1)
	if err != nil {
		return 0, sde.Wrap(err, sde.EINTERNAL, "Keys cannot be generated.")
	}
	next := *k.data
	next.Linkage = append(append([]keyEntry(nil), k.data.Linkage...), e)
	if err := writeKeyring(k.path, &next, func(tmp string) error { return os.Rename(tmp, k.path) }); err != nil {
		return 0, sde.Wrap(err, sde.EUNAVAILABLE, "The local keyring cannot be written.")
	}
	*k.data = next
	return e.Version, nil
}

// Pseudonymise returns the pseudonym of each id under the pinned key version.
func (k *Keyring) Pseudonymise(ctx context.Context, ids []string) ([]sde.Pseudonym, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return hmacPseudonymise(k.pool, ids), nil
}

// Rekeyer returns the per-workspace rekeyer backed by the keyring's latest workspace master
// secret.
func (k *Keyring) Rekeyer() *LocalRekeyer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return newLocalRekeyer(k.data.Workspace[len(k.data.Workspace)-1].Key)
}

// Signer returns the release signer backed by the keyring's latest Ed25519 key.
func (k *Keyring) Signer() *Signer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return NewSigner(ed25519.NewKeyFromSeed(k.data.Signing[len(k.data.Signing)-1].Key))
}
