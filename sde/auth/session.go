package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opensde/sde/sde"
)

// Cookie names. Over TLS the session cookie takes the __Host- prefix, which browsers only accept
// with Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or overwrite it.
const (
	sessionCookie       = "sde_session"
	secureSessionCookie = "__Host-sde_session"
	loginCookie         = "sde_login"
)

// Sessions seals browser sessions into a cookie with AES-256-GCM: the server keeps no session
// state, so any node holding the key can serve any request, and the cookie can be neither read
// nor altered by the browser.
type Sessions struct {
	aead   cipher.AEAD
	ttl    time.Duration
	secure bool
	now    func() time.Time

	// signedOut records when each user last signed out: sessions issued before then are refused
	// (second security review, F5). Kept in memory: a restart forgets it, and several service
	// processes would need it shared.
	mu        sync.Mutex
	signedOut map[sde.UserID]time.Time
}

// SessionOptions shape the cookies.
type SessionOptions struct {
	TTL    time.Duration    // lifetime of a session (default 8h)
	Secure bool             // always mark cookies Secure (behind a TLS-terminating proxy)
	Now    func() time.Time // clock, for tests
}

// NewSessions seals cookies with a 32-byte key.
func NewSessions(key []byte, o SessionOptions) (*Sessions, error) {
	if len(key) != 32 {
		return nil, sde.Errorf(sde.EINVALID, "The session key must be 32 bytes.")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot set up session cookies.")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot set up session cookies.")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultSessionTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sessions{aead: aead, ttl: o.TTL, secure: o.Secure, now: o.Now}, nil
}

// LoadOrCreateKey reads a hex-encoded 32-byte key from path, creating it (0600, in a 0700
// directory) if it does not exist. A key file others can read is refused.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create the session key directory.")
		}
		key := make([]byte, 32)
		rand.Read(key)
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
			return nil, err
		}
		return key, nil
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the session key.")
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, sde.Wrap(err, sde.EINVALID, "The session key file must hold 32 bytes in hex.")
	}
	return key, nil
}

// session is what the cookie carries.
type session struct {
	Principal *sde.Principal `json:"p"`
	IssuedNS  int64          `json:"ins"` // for sign-out revocation, which may follow within a second
	Expires   int64          `json:"exp"`
}

// secureFor reports whether cookies for this request must be Secure.
func (s *Sessions) secureFor(r *http.Request) bool { return s.secure || r.TLS != nil }

func (s *Sessions) cookieName(r *http.Request) string {
	if s.secureFor(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

// Set starts a browser session for p.
func (s *Sessions) Set(w http.ResponseWriter, r *http.Request, p *sde.Principal) error {
	now := s.now()
	exp := now.Add(s.ttl)
	val, err := s.seal("session", session{Principal: p, IssuedNS: now.UnixNano(), Expires: exp.Unix()})
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(r), Value: val, Path: "/", Expires: exp, MaxAge: int(s.ttl / time.Second),
		HttpOnly: true, Secure: s.secureFor(r), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// Revoke ends every session of user issued until now, wherever its cookie is.
func (s *Sessions) Revoke(user sde.UserID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signedOut == nil {
		s.signedOut = map[sde.UserID]time.Time{}
	}
	s.signedOut[user] = s.now()
}

// Clear ends the browser session.
func (s *Sessions) Clear(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{sessionCookie, secureSessionCookie} {
		if _, err := r.Cookie(name); err == nil || name == s.cookieName(r) {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
				HttpOnly: true, Secure: name == secureSessionCookie || s.secureFor(r), SameSite: http.SameSiteLaxMode})
		}
	}
}

// has reports whether the request carries a session cookie at all.
func (s *Sessions) has(r *http.Request) bool {
	for _, name := range []string{secureSessionCookie, sessionCookie} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return true
		}
	}
	return false
}

// Principal returns the session's caller: nil without a session cookie, and an EUNAUTHORIZED
// error for a cookie that is expired or was not sealed by us.
func (s *Sessions) Principal(r *http.Request) (*sde.Principal, error) {
	for _, name := range []string{secureSessionCookie, sessionCookie} {
		c, err := r.Cookie(name)
		if err != nil || c.Value == "" {
			continue
		}
		var sess session
		if err := s.open("session", c.Value, &sess); err != nil || sess.Principal == nil {
			return nil, unauthorized(err, "Your session is not valid; sign in again.")
		}
		if !s.now().Before(time.Unix(sess.Expires, 0)) {
			return nil, unauthorized(nil, "Your session has expired; sign in again.")
		}
		s.mu.Lock()
		out, ok := s.signedOut[sess.Principal.User]
		s.mu.Unlock()
		if ok && !time.Unix(0, sess.IssuedNS).After(out) {
			return nil, unauthorized(nil, "You signed out; sign in again.")
		}
		return sess.Principal, nil
	}
	return nil, nil
}

// seal encrypts v; purpose is bound as additional data so a login-state cookie can never be
// replayed as a session cookie.
func (s *Sessions) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", sde.Wrap(err, sde.EINTERNAL, "Cannot create the session.")
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

func (s *Sessions) open(purpose, val string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(val)
	if err != nil {
		return err
	}
	n := s.aead.NonceSize()
	if len(b) < n {
		return errors.New("short cookie")
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(purpose))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// writeFileAtomic writes a 0600 file via a temporary file and a rename, so readers never see a
// half-written key.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	if err := f.Close(); err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot write %s.", filepath.Base(path))
	}
	return nil
}

// checkPrivate refuses a secret file that other users can read or write, or that sits in a
// directory others can write (they could swap it).
func checkPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot read %s.", filepath.Base(path))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return sde.Errorf(sde.EINVALID, "%s is readable by other users; restrict it to its owner (mode 0600).", filepath.Base(path))
	}
	dst, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return sde.Wrap(err, sde.EINTERNAL, "Cannot read %s.", filepath.Base(path))
	}
	if dst.Mode().Perm()&0o022 != 0 {
		return sde.Errorf(sde.EINVALID, "The directory holding %s is writable by other users; restrict it to its owner (mode 0700).", filepath.Base(path))
	}
	return nil
}
