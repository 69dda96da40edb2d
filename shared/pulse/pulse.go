// Package pulse holds Pulse's domain: tenants, users, sessions, credentials and their rules,
// the error vocabulary every surface maps, and the injected clock and ID generator. It has no
// dependency on DynamoDB, HTTP or Lambda.
package pulse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Scope names an operation an API key may perform.
type Scope string

// The scopes of API keys, one per family of operations.
const (
	ScopeUsersRead       Scope = "users:read"
	ScopeUsersWrite      Scope = "users:write"
	ScopeSessionsRead    Scope = "sessions:read"
	ScopeSessionsWrite   Scope = "sessions:write"
	ScopeTokensWrite     Scope = "tokens:write"
	ScopeActiveUsersRead Scope = "active-users:read"
)

// AllScopes lists every scope, in a stable order.
var AllScopes = []Scope{ScopeUsersRead, ScopeUsersWrite, ScopeSessionsRead, ScopeSessionsWrite, ScopeTokensWrite, ScopeActiveUsersRead}

// ParseScope returns the scope named s, or false.
func ParseScope(s string) (Scope, bool) {
	for _, sc := range AllScopes {
		if string(sc) == s {
			return sc, true
		}
	}
	return "", false
}

// Tenant is one customer of Pulse. Everything else belongs to exactly one tenant.
type Tenant struct {
	ID        string
	Name      string
	TimeZone  string // IANA name; days of activity are counted in it. Empty means UTC.
	Grants    []Grant
	CreatedAt time.Time
}

// Permission names what a user's roles let them do on the engagement surface.
type Permission string

// Permissions of a user's roles. PermViewEngagement is Rocket.Chat's name for reading its
// engagement dashboard (and Pulse's DAU/WAU/MAU); the others let a personal access token, and
// so the dashboard page, reach what otherwise only an API key reads.
const (
	PermViewEngagement   Permission = "view-engagement-dashboard"
	PermViewActiveUsers  Permission = "view-active-users"  // the admin API's active list
	PermViewUserSessions Permission = "view-user-sessions" // a user's session list
	PermRevokeSessions   Permission = "revoke-sessions"    // revoking one session
)

// PermSignedIn is what a route needs that any valid token may call, whatever the user's roles:
// the signed-in user's own permissions. It is never granted and never listed.
const PermSignedIn Permission = "signed-in"

// AllPermissions lists every permission, in a stable order.
var AllPermissions = []Permission{PermViewEngagement, PermViewActiveUsers, PermViewUserSessions, PermRevokeSessions}

// ParsePermission returns the permission named s, or false.
func ParsePermission(s string) (Permission, bool) {
	for _, p := range AllPermissions {
		if string(p) == s {
			return p, true
		}
	}
	return "", false
}

// AdminRole holds every permission in every tenant.
const AdminRole = "admin"

// Grant gives a permission to every user with a role.
type Grant struct {
	Role       string
	Permission Permission
}

// Allows reports whether a user with roles holds perm in tenant t: through the admin role, or
// through a grant of t to one of the roles.
func (t *Tenant) Allows(roles []string, perm Permission) bool {
	for _, r := range roles {
		if r == AdminRole {
			return true
		}
		for _, g := range t.Grants {
			if g.Role == r && g.Permission == perm {
				return true
			}
		}
	}
	return false
}

// AccessToken is a user's personal access token for the engagement surface, named by the user
// (unique per user, as in Rocket.Chat). Only the SHA-256 hash of the secret is stored.
type AccessToken struct {
	TenantID  string
	UserID    string
	Name      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// APIKey is a tenant's credential for the admin and management surfaces. Only the SHA-256
// hash of the secret is stored; the secret is shown once, when the key is created.
type APIKey struct {
	ID        string
	TenantID  string
	Name      string
	Scopes    []Scope
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is valid
}

// Has reports whether the key grants scope s.
func (k *APIKey) Has(s Scope) bool {
	for _, sc := range k.Scopes {
		if sc == s {
			return true
		}
	}
	return false
}

// User is an end user of the tenant's application.
type User struct {
	TenantID  string
	ID        string
	Name      string
	Type      string
	Roles     []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Session states and the reasons a session ends.
const (
	StatusActive = "active"
	StatusEnded  = "ended"

	EndRevoked = "revoked" // revoked through the API
	EndIdle    = "idle"    // no activity within the idle timeout
	EndExpired = "expired" // reached its absolute maximum lifetime
	EndEvicted = "evicted" // ended to make room under the user's session cap
	EndErased  = "erased"  // ended because its user was deleted
)

// Session is one login of a user on one device, with what Pulse learnt of it at write time.
type Session struct {
	TenantID     string
	UserID       string
	ID           string
	Key          string // SHA-256 fingerprint shown as session_key; identifies, grants nothing
	ClientIDs    []string
	InitiatedAt  time.Time
	LastActivity time.Time
	ExpiresAt    time.Time // sliding: min(last activity + idle timeout, HardExpiresAt)
	HardExpires  time.Time // initiated + maximum lifetime
	EndedAt      time.Time // set when revoked or ended by cleanup
	EndReason    string    // set once the end is recorded: revoked, idle or expired
	Device       Device
	Location     Location
	IPAddress    string
	// UserName and UserType are the user's, copied onto the session when it starts and kept in
	// step by a rename, so that a list of sessions needs no second read per session.
	UserName string
	UserType string
	// NewDevice and NewLocation say that the session started on a browser and OS, or in a
	// country, the user was not seen with over the policy's NewDeviceWindow (Pulse's addition
	// to the session body; never set on a user's first session).
	NewDevice   bool
	NewLocation bool
}

// State returns whether s is live at now and, when it is not, when and why it ended. An expired
// session counts as ended at once, whether or not cleanup has run yet: DynamoDB TTL and the
// scheduled cleanup are both late by design, so every read decides for itself.
func (s *Session) State(now time.Time) (status string, endedAt time.Time, reason string) {
	switch {
	case s.EndReason != "": // recorded: revoked, or ended by cleanup
		return StatusEnded, s.EndedAt, s.EndReason
	case !now.Before(s.ExpiresAt):
		if !s.ExpiresAt.Before(s.HardExpires) {
			return StatusEnded, s.ExpiresAt, EndExpired
		}
		return StatusEnded, s.ExpiresAt, EndIdle
	}
	return StatusActive, time.Time{}, ""
}

// Live reports whether s is neither ended nor expired at now.
func (s *Session) Live(now time.Time) bool {
	st, _, _ := s.State(now)
	return st == StatusActive
}

// Device is what the User-Agent says, parsed once when it is stored.
type Device struct {
	UserAgent    string
	Browser      string
	Version      string // full version, as "134.0.0.0"
	MajorVersion int
	OS           string
}

// Location is where an IP address or CDN says the user is. Empty fields are unknown.
type Location struct {
	CountryCode string
	Country     string
	City        string
	Continent   string // continent name, as "North America"
	Latitude    string // decimal degrees as text, as the management API shows them
	Longitude   string
}

// SessionPolicy holds the lifetime rules of sessions.
type SessionPolicy struct {
	IdleTimeout  time.Duration // sliding: activity pushes expiry this far ahead
	MaxLifetime  time.Duration // absolute: no session outlives initiated + this
	Retention    time.Duration // how long an ended session is kept before TTL deletes it
	ActivityKeep time.Duration // how long per-day activity is kept
	ActiveWindow time.Duration // "active now" = activity within this window
	// ActivityResolution: activity this close to the stored last activity that changes nothing
	// else is not written (0: every heartbeat writes).
	ActivityResolution time.Duration
	// MaxPerUser caps a user's live sessions; LimitPolicy says what a login beyond it does.
	MaxPerUser  int
	LimitPolicy string
	// NewDeviceWindow is how far back a login looks for the user's devices and countries.
	NewDeviceWindow time.Duration
}

// What a login does when the user already has MaxPerUser live sessions.
const (
	LimitEvict  = "evict"  // end the user's oldest live session (end_reason evicted)
	LimitRefuse = "refuse" // refuse the login (409)
)

// DefaultSessionPolicy is used where configuration says nothing. Documented in docs/deploying.md.
var DefaultSessionPolicy = SessionPolicy{
	IdleTimeout:  30 * time.Minute,
	MaxLifetime:  24 * time.Hour,
	Retention:    30 * 24 * time.Hour,
	ActivityKeep: 400 * 24 * time.Hour,
	ActiveWindow: 5 * time.Minute,
	// ActivityResolution: a heartbeat every 30 seconds writes once a minute.
	ActivityResolution: time.Minute,
	MaxPerUser:         100,
	LimitPolicy:        LimitEvict,
	// NewDeviceWindow: a device unseen for a quarter counts as new again.
	NewDeviceWindow: 90 * 24 * time.Hour,
}

// Expiry returns the expiry of a session last active at t: the idle timeout slides, the
// absolute lifetime does not.
func (p SessionPolicy) Expiry(t, hardExpires time.Time) time.Time {
	exp := t.Add(p.IdleTimeout)
	if exp.After(hardExpires) {
		return hardExpires
	}
	return exp
}

// Clock tells the time; tests pin it.
type Clock func() time.Time

// IDs generates identifiers; tests pin it.
type IDs interface {
	// NewID returns a new 128-bit identifier as 32 upper-case hex digits.
	NewID() string
	// NewSecret returns n random bytes for credentials.
	NewSecret(n int) []byte
}

// RandomIDs draws identifiers and secrets from crypto/rand.
type RandomIDs struct{}

// NewID returns 128 random bits as 32 upper-case hex digits.
func (RandomIDs) NewID() string {
	return strings.ToUpper(hex.EncodeToString(RandomIDs{}.NewSecret(16)))
}

// NewSecret returns n bytes from crypto/rand, which never fails on supported platforms.
func (RandomIDs) NewSecret(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

type principalKey struct{}

// Principal is who a request acts for: a tenant's API key, or a user's access token.
type Principal struct {
	TenantID string
	KeyID    string // set for API keys
	Scopes   []Scope
	UserID   string // set for user tokens
	// Permissions are what the token's user's roles allow in the tenant, in AllPermissions'
	// order (set for user tokens).
	Permissions []Permission
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal the auth middleware stored in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// SystemClock is the real clock.
func SystemClock() time.Time { return time.Now() }
