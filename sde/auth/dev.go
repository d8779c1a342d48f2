package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/opensde/sde/sde"
)

// DemoUser is a person of the development issuer.
type DemoUser struct {
	User             sde.UserID
	Name             string
	Email            string
	Organisation     sde.OrgCode
	OrganisationName string
	Roles            []sde.Role
}

// The demo organisations: the ICB whose analysts use the SDE, and the controllers of the
// synthetic sources (their codes match sde/synth/specs).
const (
	OrgICB       sde.OrgCode = "RVICB"
	OrgGP        sde.OrgCode = "RVGPC"
	OrgAcute     sde.OrgCode = "RVAPC"
	OrgCommunity sde.OrgCode = "R9C"
	OrgLA        sde.OrgCode = "RVLA"
	OrgVCSE      sde.OrgCode = "RVVCS"
	OrgNDOP      sde.OrgCode = "NDOP"
)

func demo(user, name string, org sde.OrgCode, orgName string, roles ...sde.Role) DemoUser {
	return DemoUser{User: sde.UserID(user), Name: name, Email: user + "@north-riverside.example",
		Organisation: org, OrganisationName: orgName, Roles: roles}
}

const (
	icbName       = "North Riverside ICB analytics"
	gpName        = "North Riverside GP Collaborative"
	acuteName     = "North Riverside Acute Provider Collaborative"
	communityName = "Riverside Community and Mental Health NHS Foundation Trust"
	laName        = "Riverside City Council Adult Social Care"
	vcseName      = "Riverside VCSE Alliance"
	ndopName      = "NHS England National Data Opt-out Service"
)

// DemoUsers are the people of `serve --dev`, one role each, so every screen and rule can be tried
// as each kind of user. The store's dev seed and tests use this table.
var DemoUsers = []DemoUser{
	demo("analyst1", "Asha Patel", OrgICB, icbName, sde.RoleAnalyst),
	demo("analyst2", "Ben Okafor", OrgICB, icbName, sde.RoleAnalyst),
	demo("planner1", "Carys Lewis", OrgICB, icbName, sde.RolePlanner),
	demo("checker1", "Dev Sharma", OrgICB, icbName, sde.RoleChecker),
	demo("checker2", "Ewa Nowak", OrgICB, icbName, sde.RoleChecker),
	demo("controller-gp", "Femi Adeyemi", OrgGP, gpName, sde.RoleController),
	demo("controller-acute", "Grace Hughes", OrgAcute, acuteName, sde.RoleController),
	demo("controller-community", "Hamid Rahman", OrgCommunity, communityName, sde.RoleController),
	demo("controller-la", "Isla Campbell", OrgLA, laName, sde.RoleController),
	demo("controller-vcse", "Jonah Price", OrgVCSE, vcseName, sde.RoleController),
	demo("controller-ndop", "Kate Morgan", OrgNDOP, ndopName, sde.RoleController),
	demo("admin", "Leo Fischer", OrgICB, icbName, sde.RoleAdmin),
}

// LookupDemoUser finds a demo user by ID.
func LookupDemoUser(id string) (DemoUser, bool) {
	for _, u := range DemoUsers {
		if string(u.User) == id {
			return u, true
		}
	}
	return DemoUser{}, false
}

// DemoUserIDs lists the demo users' IDs, for messages.
func DemoUserIDs() []string {
	ids := make([]string, len(DemoUsers))
	for i, u := range DemoUsers {
		ids[i] = string(u.User)
	}
	return ids
}

// Dev issuer defaults.
const (
	DevClientID     = "sde"   // the web app's and the API's client ID (the tokens' audience)
	DevIssuerPath   = "/oidc" // where the issuer is mounted on the service's own server
	DefaultDevTTL   = time.Hour
	devKeyFile      = "signing-key.pem"
	devRecordFile   = "issuer.json"
	devIssuerSubdir = "dev-issuer"
)

// DevIssuerDir is where serve --dev keeps the development issuer's key and record.
func DevIssuerDir(dataDir string) string { return filepath.Join(dataDir, devIssuerSubdir) }

// DevIssuerURL is the issuer URL for a service listening on addr: a wildcard listen address
// becomes the loopback address, which the service can always reach itself on.
func DevIssuerURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "80"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + DevIssuerPath
}

// DevIssuerOptions configure OpenDevIssuer.
type DevIssuerOptions struct {
	Dir          string   // holds the signing key and the issuer record (DevIssuerDir)
	Issuer       string   // the issuer URL; its path is where the issuer must be mounted
	RedirectURLs []string // the web app's registered callback URLs
	RolesClaim   string   // claim names, as the verifier expects them (defaults as Config)
	OrgClaim     string
	TokenTTL     time.Duration // lifetime of issued tokens (default 1h)
	Logger       *slog.Logger
}

// devRecord is what the last serve --dev wrote, so `sde dev token` (another process) mints tokens
// the running server accepts.
type devRecord struct {
	Issuer     string `json:"issuer"`
	Audience   string `json:"audience"`
	RolesClaim string `json:"roles_claim"`
	OrgClaim   string `json:"org_claim"`
	KeyID      string `json:"key_id"`
}

// DevIssuer is a development OpenID Provider (zitadel/oidc op) with the demo users and a
// password-free sign-in page. It is for `serve --dev` only: anyone who can reach it can sign in
// as anyone.
type DevIssuer struct {
	rec      devRecord
	prefix   string
	redirect []string
	key      *rsa.PrivateKey
	ttl      time.Duration
	provider *op.Provider
	store    *devStorage
	logger   *slog.Logger
}

// OpenDevIssuer loads (or on first use creates) the signing key under o.Dir and records the
// issuer URL there. Mount the result at its Pattern on the server whose address the issuer URL
// names.
func OpenDevIssuer(o DevIssuerOptions) (*DevIssuer, error) {
	u, err := url.Parse(o.Issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.Path == "" || u.Path == "/" || strings.HasSuffix(u.Path, "/") {
		return nil, sde.Errorf(sde.EINVALID, "The development issuer URL must be absolute with a path, like http://127.0.0.1:8080%s.", DevIssuerPath)
	}
	if o.RolesClaim == "" {
		o.RolesClaim = DefaultRolesClaim
	}
	if o.OrgClaim == "" {
		o.OrgClaim = DefaultOrgClaim
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultDevTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	key, err := loadOrCreateRSA(o.Dir)
	if err != nil {
		return nil, err
	}
	d := &DevIssuer{
		rec:      devRecord{Issuer: o.Issuer, Audience: DevClientID, RolesClaim: o.RolesClaim, OrgClaim: o.OrgClaim, KeyID: keyID(&key.PublicKey)},
		prefix:   u.Path,
		redirect: o.RedirectURLs,
		key:      key,
		ttl:      o.TokenTTL,
		logger:   o.Logger,
	}
	b, _ := json.MarshalIndent(d.rec, "", "  ")
	if err := writeFileAtomic(filepath.Join(o.Dir, devRecordFile), append(b, '\n')); err != nil {
		return nil, err
	}
	d.store = newDevStorage(d)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	cfg := &op.Config{
		// Encrypts the provider's opaque codes; derived from the signing key so it is stable
		// across restarts without another file.
		CryptoKey:      sha256.Sum256(append([]byte("sde dev issuer op crypto key\x00"), der...)),
		CryptoKeyId:    "dev",
		CodeMethodS256: true,
	}
	d.provider, err = op.NewProvider(cfg, d.store, op.StaticIssuer(o.Issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot start the development issuer.")
	}
	return d, nil
}

// Pattern is the ServeMux pattern to mount the issuer at, e.g. "/oidc/".
func (d *DevIssuer) Pattern() string { return d.prefix + "/" }

// Issuer is the issuer URL.
func (d *DevIssuer) Issuer() string { return d.rec.Issuer }

// Config is the verifier configuration that trusts this issuer: its URL, the client ID, and the
// first redirect URL for browser sign-in.
func (d *DevIssuer) Config() Config {
	c := Config{Issuer: d.rec.Issuer, Audience: d.rec.Audience, RolesClaim: d.rec.RolesClaim, OrgClaim: d.rec.OrgClaim}
	if len(d.redirect) > 0 {
		c.RedirectURL = d.redirect[0]
	}
	return c
}

// ServeHTTP serves the OpenID Provider's endpoints and the demo sign-in page under the prefix.
func (d *DevIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, d.prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		http.NotFound(w, r)
		return
	}
	if rest == devLoginPath {
		d.loginPage(w, r)
		return
	}
	http.StripPrefix(d.prefix, d.provider).ServeHTTP(w, r)
}

// Token mints an access token for a demo user, signed with the issuer's key.
func (d *DevIssuer) Token(user string, ttl time.Duration) (string, error) {
	u, ok := LookupDemoUser(user)
	if !ok {
		return "", unknownDemoUser(user)
	}
	if ttl <= 0 {
		ttl = d.ttl
	}
	return mint(d.key, d.rec, u, time.Now(), ttl)
}

// DevToken mints an access token for a demo user from another process: it signs with the key
// under dir for the issuer URL the last `serve --dev` recorded there.
func DevToken(dir, user string, ttl time.Duration, now time.Time) (string, error) {
	u, ok := LookupDemoUser(user)
	if !ok {
		return "", unknownDemoUser(user)
	}
	b, err := os.ReadFile(filepath.Join(dir, devRecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", sde.Wrap(err, sde.ENOTFOUND, "There is no development issuer in this data directory; start `sde serve --dev` first (with the same --data).")
	} else if err != nil {
		return "", sde.Wrap(err, sde.EINTERNAL, "Cannot read the development issuer's record.")
	}
	var rec devRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.Issuer == "" {
		return "", sde.Wrap(err, sde.EINVALID, "The development issuer's record is damaged; restart `sde serve --dev`.")
	}
	key, err := readRSA(filepath.Join(dir, devKeyFile))
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		ttl = DefaultDevTTL
	}
	return mint(key, rec, u, now, ttl)
}

func unknownDemoUser(user string) error {
	return sde.Errorf(sde.EINVALID, "%q is not a demo user; choose one of %s.", user, strings.Join(DemoUserIDs(), ", "))
}

// demoClaims are the claims that say who a demo user is, in ID tokens, access tokens and
// userinfo alike.
func demoClaims(rec devRecord, u DemoUser) map[string]any {
	roles := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		roles[i] = string(r)
	}
	return map[string]any{
		rec.RolesClaim:       roles,
		rec.OrgClaim:         string(u.Organisation),
		"name":               u.Name,
		"email":              u.Email,
		"preferred_username": string(u.User),
	}
}

// mint signs a JWT access token like the ones the provider issues.
func mint(key *rsa.PrivateKey, rec devRecord, u DemoUser, now time.Time, ttl time.Duration) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: rec.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", sde.Wrap(err, sde.EINTERNAL, "Cannot sign the token.")
	}
	std := jwt.Claims{
		Issuer: rec.Issuer, Subject: string(u.User), Audience: jwt.Audience{rec.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
		ID: randomString(),
	}
	extra := demoClaims(rec, u)
	extra["client_id"] = rec.Audience
	tok, err := jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
	if err != nil {
		return "", sde.Wrap(err, sde.EINTERNAL, "Cannot sign the token.")
	}
	return tok, nil
}

// keyID is a stable key ID: a digest of the public key.
func keyID(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func loadOrCreateRSA(dir string) (*rsa.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot create the development issuer's directory.")
	}
	path := filepath.Join(dir, devKeyFile)
	key, err := readRSA(path)
	if err == nil || sde.ErrorCode(err) != sde.ENOTFOUND {
		return key, err
	}
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot generate the development issuer's key.")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot encode the development issuer's key.")
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	return key, nil
}

func readRSA(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, sde.Wrap(err, sde.ENOTFOUND, "There is no development issuer key; start `sde serve --dev` first.")
	} else if err != nil {
		return nil, sde.Wrap(err, sde.EINTERNAL, "Cannot read the development issuer's key.")
	}
	if err := checkPrivate(path); err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, sde.Errorf(sde.EINVALID, "The development issuer's key file is damaged; delete the dev-issuer directory to start afresh.")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	rk, ok := k.(*rsa.PrivateKey)
	if err != nil || !ok {
		return nil, sde.Wrap(err, sde.EINVALID, "The development issuer's key file is damaged; delete the dev-issuer directory to start afresh.")
	}
	return rk, nil
}
