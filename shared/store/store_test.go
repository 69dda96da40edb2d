package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock(t time.Time) *clock    { return &clock{t: t} }

var start = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func newStore(t *testing.T, c *clock) *store.Store {
	t.Helper()
	db, table := ddbtest.New(t)
	return store.New(db, store.Options{Table: table, Now: c.Now})
}

// newStoreWith is newStore with the default policy changed by change.
func newStoreWith(t *testing.T, c *clock, change func(*pulse.SessionPolicy)) *store.Store {
	t.Helper()
	db, table := ddbtest.New(t)
	p := pulse.DefaultSessionPolicy
	change(&p)
	return store.New(db, store.Options{Table: table, Now: c.Now, Policy: p})
}

func code(err error) string { return pulse.ErrorCode(err) }

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClock(start))
	if _, _, err := s.CreateAPIKey(ctx, "acme", "ci", pulse.AllScopes); code(err) != pulse.ENOTFOUND {
		t.Fatalf("CreateAPIKey for a missing tenant: err = %v, want %s", err, pulse.ENOTFOUND)
	}
	if _, err := s.CreateTenant(ctx, pulse.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(ctx, pulse.Tenant{ID: "acme"}); code(err) != pulse.ECONFLICT {
		t.Fatalf("second CreateTenant: err = %v, want %s", err, pulse.ECONFLICT)
	}
	secret, k, err := s.CreateAPIKey(ctx, "acme", "ci", []pulse.Scope{pulse.ScopeUsersRead})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.TenantID != "acme" || !got.Has(pulse.ScopeUsersRead) || got.Has(pulse.ScopeUsersWrite) {
		t.Errorf("Authenticate = %+v, want key %s of acme with users:read only", got, k.ID)
	}
	for _, bad := range []string{"", "pulse_", secret + "x", secret[:len(secret)-1], "Bearer " + secret} {
		if _, err := s.Authenticate(ctx, bad); code(err) != pulse.EUNAUTHORIZED {
			t.Errorf("Authenticate(%q): err = %v, want %s", bad, err, pulse.EUNAUTHORIZED)
		}
	}
	keys, err := s.ListAPIKeys(ctx, "acme")
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID {
		t.Fatalf("ListAPIKeys = %v, %v; want the one key", keys, err)
	}
	if err := s.RevokeAPIKey(ctx, "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); code(err) != pulse.EUNAUTHORIZED {
		t.Errorf("Authenticate after revoke: err = %v, want %s", err, pulse.EUNAUTHORIZED)
	}
	if err := s.RevokeAPIKey(ctx, "other", k.ID); code(err) != pulse.ENOTFOUND {
		t.Errorf("RevokeAPIKey from another tenant: err = %v, want %s", err, pulse.ENOTFOUND)
	}
}

func TestPutUserCreatedThenUpdated(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	u, created, err := s.PutUser(ctx, pulse.User{TenantID: "acme", ID: "10000000000001", Name: "admin", Type: "System", Roles: []string{"admin"}}, time.UTC)
	if err != nil || !created {
		t.Fatalf("first PutUser: created=%v err=%v, want created", created, err)
	}
	c.Add(time.Minute)
	u2, created, err := s.PutUser(ctx, pulse.User{TenantID: "acme", ID: "10000000000001", Name: "root", Type: "System"}, time.UTC)
	if err != nil || created {
		t.Fatalf("second PutUser: created=%v err=%v, want updated", created, err)
	}
	if !u2.CreatedAt.Equal(u.CreatedAt) || !u2.UpdatedAt.Equal(start.Add(time.Minute)) || u2.Name != "root" || len(u2.Roles) != 0 {
		t.Errorf("after update: %+v", u2)
	}
	got, err := s.GetUser(ctx, "acme", "10000000000001")
	if err != nil || got.Name != "root" {
		t.Fatalf("GetUser = %+v, %v", got, err)
	}
	if _, err := s.GetUser(ctx, "other", "10000000000001"); code(err) != pulse.ENOTFOUND {
		t.Errorf("GetUser from another tenant: err = %v, want %s", err, pulse.ENOTFOUND)
	}
}

func newSession(user, id string) store.NewSession {
	return store.NewSession{TenantID: "acme", UserID: user, SessionID: id, ClientID: "web", IP: "192.0.2.1",
		Device: pulse.Device{UserAgent: "UA/1", Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}}
}

func TestCreateSessionIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newClock(start))
	first, created, err := s.CreateSession(ctx, newSession("u1", "S1"))
	if err != nil || !created {
		t.Fatalf("CreateSession: created=%v err=%v", created, err)
	}
	again, created, err := s.CreateSession(ctx, newSession("u1", "S1"))
	if err != nil || created || again.Key != first.Key {
		t.Fatalf("same request again: created=%v err=%v key %s vs %s; want the stored session", created, err, again.Key, first.Key)
	}
	other := newSession("u1", "S1")
	other.ClientID = "mobile"
	if _, _, err := s.CreateSession(ctx, other); code(err) != pulse.ECONFLICT {
		t.Fatalf("different request with the same ID: err = %v, want %s", err, pulse.ECONFLICT)
	}
	u, err := s.GetUser(ctx, "acme", "u1")
	if err != nil {
		t.Fatalf("user made by the session: %v", err)
	}
	if !u.CreatedAt.Equal(start) {
		t.Errorf("user created at %v, want %v", u.CreatedAt, start)
	}
	generated, _, err := s.CreateSession(ctx, newSession("u1", ""))
	if err != nil || len(generated.ID) != 32 || generated.ID == first.ID {
		t.Fatalf("generated ID %q, err %v", generated.ID, err)
	}
}

// A login at the cap makes room and then writes its session at once: a pause before that round
// (up to 10 ms, 5 on average) was taken by every login of a user at the cap, though nothing
// raced it. The rounds that do meet a race still pause (TestSessionCapHoldsUnderBursts).
func TestLoginAtTheCapDoesNotPause(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStoreWith(t, c, func(p *pulse.SessionPolicy) { p.MaxPerUser = 3 })
	for i := range 3 {
		if _, _, err := s.CreateSession(ctx, newSession("u1", fmt.Sprintf("S%d", i))); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		c.Add(time.Second)
	}
	pauses := store.CountPauses(t)
	for i := 3; i < 6; i++ {
		if _, created, err := s.CreateSession(ctx, newSession("u1", fmt.Sprintf("S%d", i))); err != nil || !created {
			t.Fatalf("login %d at the cap: created=%v err=%v", i, created, err)
		}
		c.Add(time.Second)
		if old, err := s.GetSession(ctx, "acme", "u1", fmt.Sprintf("S%d", i-3)); err != nil || old.EndReason != pulse.EndEvicted {
			t.Fatalf("login %d at the cap: the oldest session %+v (err %v), want it evicted", i, old, err)
		}
	}
	if n := pauses.Load(); n != 0 {
		t.Errorf("3 logins at the cap, one at a time, paused %d times; want none", n)
	}
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	p := s.Policy()
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	// Activity slides the idle expiry…
	c.Add(p.IdleTimeout - time.Second)
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1", ClientID: "mobile", IP: "198.51.100.4"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "acme", "u1", "S1")
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(p.IdleTimeout); !got.ExpiresAt.Equal(want) || got.IPAddress != "198.51.100.4" || len(got.ClientIDs) != 2 {
		t.Errorf("after activity: expires %v (want %v), ip %s, clients %v", got.ExpiresAt, want, got.IPAddress, got.ClientIDs)
	}
	// …but never past the absolute lifetime.
	for c.Now().Before(start.Add(p.MaxLifetime - p.IdleTimeout/2)) {
		c.Add(p.IdleTimeout / 2)
		if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"}); err != nil {
			t.Fatalf("activity at %v: %v", c.Now(), err)
		}
	}
	got, _ = s.GetSession(ctx, "acme", "u1", "S1")
	if !got.ExpiresAt.Equal(start.Add(p.MaxLifetime)) {
		t.Errorf("near the end: expires %v, want the hard limit %v", got.ExpiresAt, start.Add(p.MaxLifetime))
	}
	c.Add(p.IdleTimeout)
	if st, _, reason := got.State(c.Now()); st != pulse.StatusEnded || reason != pulse.EndExpired {
		t.Errorf("past the lifetime: state %s/%s, want ended/expired", st, reason)
	}
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"}); code(err) != pulse.ECONFLICT {
		t.Errorf("activity after expiry: err = %v, want %s", err, pulse.ECONFLICT)
	}
}

func TestIdleExpiryAndRevoke(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	for _, id := range []string{"S1", "S2", "S3"} {
		if _, _, err := s.CreateSession(ctx, newSession("u1", id)); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(s.Policy().IdleTimeout) // S1..S3 are idle now, without any cleanup having run
	got, _ := s.GetSession(ctx, "acme", "u1", "S1")
	if st, at, reason := got.State(c.Now()); st != pulse.StatusEnded || reason != pulse.EndIdle || !at.Equal(c.Now()) {
		t.Errorf("idle session: %s at %v (%s), want ended at %v (idle)", st, at, reason, c.Now())
	}
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S4")); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "acme", "u1", "S4"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "acme", "u1", "S4"); err != nil {
		t.Errorf("revoking twice: %v, want nil", err)
	}
	got, _ = s.GetSession(ctx, "acme", "u1", "S4")
	if st, at, reason := got.State(c.Now()); st != pulse.StatusEnded || reason != pulse.EndRevoked || !at.Equal(c.Now()) {
		t.Errorf("revoked session: %s at %v (%s)", st, at, reason)
	}
	if err := s.RevokeSession(ctx, "acme", "u1", "nope"); code(err) != pulse.ENOTFOUND {
		t.Errorf("revoke unknown: err = %v, want %s", err, pulse.ENOTFOUND)
	}
	if err := s.RevokeSession(ctx, "other", "u1", "S1"); code(err) != pulse.ENOTFOUND {
		t.Errorf("revoke from another tenant: err = %v, want %s", err, pulse.ENOTFOUND)
	}
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S4"}); code(err) != pulse.ECONFLICT {
		t.Errorf("activity on a revoked session: err = %v, want %s", err, pulse.ECONFLICT)
	}
}

func TestRevokeUserSessions(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	for i := range 3 {
		if _, _, err := s.CreateSession(ctx, newSession("u1", fmt.Sprintf("S%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateSession(ctx, newSession("u2", "X")); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, "acme", "u1", "S0"); err != nil {
		t.Fatal(err)
	}
	n, err := s.RevokeUserSessions(ctx, "acme", "u1")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %d, %v; want 2 (one was already revoked)", n, err)
	}
	if other, _ := s.GetSession(ctx, "acme", "u2", "X"); !other.Live(c.Now()) {
		t.Error("another user's session was revoked")
	}
	if _, err := s.RevokeUserSessions(ctx, "acme", "ghost"); code(err) != pulse.ENOTFOUND {
		t.Errorf("unknown user: err = %v, want %s", err, pulse.ENOTFOUND)
	}
}

func TestDeleteUserErasesEverything(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	for i := range 30 { // more than one batch of deletes
		if _, _, err := s.CreateSession(ctx, newSession("u1", fmt.Sprintf("S%d", i))); err != nil {
			t.Fatal(err)
		}
		c.Add(24 * time.Hour / 10)
	}
	if _, _, err := s.CreateSession(ctx, newSession("u2", "keep")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "acme", "u1"); code(err) != pulse.ENOTFOUND {
		t.Errorf("user after delete: err = %v, want %s", err, pulse.ENOTFOUND)
	}
	for i := range 30 {
		if _, err := s.GetSession(ctx, "acme", "u1", fmt.Sprintf("S%d", i)); code(err) != pulse.ENOTFOUND {
			t.Fatalf("session S%d after delete: err = %v, want %s", i, err, pulse.ENOTFOUND)
		}
	}
	if _, err := s.GetSession(ctx, "acme", "u2", "keep"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	if err := s.DeleteUser(ctx, "acme", "u1"); code(err) != pulse.ENOTFOUND {
		t.Errorf("second delete: err = %v, want %s", err, pulse.ENOTFOUND)
	}
}

// A token stops working the moment its user's erasure begins, not when the erasure reaches
// its credential: with the request's time already short, DeleteUser sets the tombstone and
// deletes nothing else, and the credential, still stored, no longer authenticates.
func TestTokenEndsWhenTheErasureBegins(t *testing.T) {
	ctx := context.Background()
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: newClock(start).Now})
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	secret, _, err := s.CreateToken(ctx, "acme", "u1", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, u, err := s.AuthenticateToken(ctx, "u1", secret)
	if err != nil || tok.TenantID != "acme" || u.ID != "u1" {
		t.Fatalf("before the erasure: %+v %+v %v, want the token and its user", tok, u, err)
	}
	short, cancel := context.WithTimeout(ctx, 900*time.Millisecond) // under nearDeadline's second
	defer cancel()
	if err := s.DeleteUser(short, "acme", "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetToken(ctx, "acme", "u1", "ci"); code(err) != pulse.ENOTFOUND {
		t.Errorf("the token by name: %v, want %s", err, pulse.ENOTFOUND)
	}
	left, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		FilterExpression: aws.String("attribute_exists(token_hash)"), Select: types.SelectCount})
	if err != nil || left.Count != 2 {
		t.Fatalf("token items after the cut erasure: %+v %v, want the credential and its reference still stored", left, err)
	}
	if _, _, err := s.AuthenticateToken(ctx, "u1", secret); code(err) != pulse.EUNAUTHORIZED {
		t.Errorf("the token once the erasure began: %v, want %s", err, pulse.EUNAUTHORIZED)
	}
}

// Recording activity in steady state (repeated calls within the same minute, bucket of the
// active index and day) must cost at most 1.5 WCU per call, indexes included, as DynamoDB
// reports it, at the template's ACTIVITY_RESOLUTION (1m0s: such calls write once). With it off,
// every call writes: the session, and its LiveTimes entry, which projects the last activity and
// expiry so that the session list sorted by either costs its page (issue 23): 2 WCU a call,
// the trade BENCHMARKS.md argues (section 5), and never more (TestActivityCoalesces has the
// resolution on in detail).
func TestActivitySteadyStateCost(t *testing.T) {
	ctx := context.Background()
	var c *clock
	var s *store.Store
	var m store.Meter
	mctx := store.WithMeter(ctx, &m)
	const calls = 20
	for _, run := range []struct {
		resolution time.Duration
		most       float64
	}{{time.Minute, 1.5}, {0, 2}} {
		c = newClock(time.Date(2026, 3, 10, 23, 55, 0, 0, time.UTC)) // start of an index bucket
		s = newStoreWith(t, c, func(p *pulse.SessionPolicy) { p.ActivityResolution = run.resolution })
		if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
			t.Fatal(err)
		}
		c.Add(run.resolution) // the first call past the resolution of the login's activity
		m.Reset()
		for range calls {
			c.Add(2 * time.Second) // 20 calls within the same minute
			if err := s.RecordActivity(mctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1", IP: "192.0.2.1", ClientID: "web"}); err != nil {
				t.Fatal(err)
			}
		}
		n, _, wcu := m.Snapshot()
		if run.resolution == 0 && n != calls {
			t.Errorf("%d DynamoDB calls for %d heartbeats, want one each", n, calls)
		}
		if per := wcu / calls; wcu == 0 || per > run.most {
			t.Errorf("steady-state activity at resolution %s costs %.2f WCU per call, want > 0 and ≤ %.1f", run.resolution, per, run.most)
		}
		t.Logf("steady state at resolution %s: %d calls, %.1f WCU, %.2f WCU per call", run.resolution, n, wcu, wcu/calls)
	}

	// Past midnight: a new day (one more write, the user-day item), a new index bucket (the
	// session moves in the active index, which DynamoDB charges to the index) and a new hour
	// (the tenant's counters: the user read, then one transaction). That this costs more shows
	// the meter sees index writes, so the steady-state figure above is real.
	m.Reset()
	c.Add(5 * time.Minute)
	if err := s.RecordActivity(mctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"}); err != nil {
		t.Fatal(err)
	}
	n, _, wcu := m.Snapshot()
	if n != 4 {
		t.Errorf("first activity of a new day: %d calls, want 4 (session, user-day, user, counters)", n)
	}
	if wcu <= 2 {
		t.Errorf("new day and bucket: %.1f WCU, want more than 2 (session, day item and their index writes)", wcu)
	}
	t.Logf("new day and bucket: %d calls, %.1f WCU", n, wcu)
}

// A heartbeat that brings a session a client it has not had joins it and counts it in the
// user's client counters (the list filtered by client_id reads its total there): the write
// conditioned on the client being known fails, one transaction joins and counts, the write
// goes again. It happens once per session and client: the next heartbeat is one write again.
func TestActivityWithANewClientCost(t *testing.T) {
	ctx := context.Background()
	c := newClock(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)) // start of an index bucket
	s := newStoreWith(t, c, func(p *pulse.SessionPolicy) { p.ActivityResolution = 0 })
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	var m store.Meter
	mctx := store.WithMeter(ctx, &m)
	heartbeat := func(client string) (int, float64) {
		t.Helper()
		m.Reset()
		c.Add(2 * time.Second)
		if err := s.RecordActivity(mctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1", ClientID: client}); err != nil {
			t.Fatal(err)
		}
		n, _, _ := m.Snapshot()
		_, wcu := m.OnAWS()
		return n, wcu
	}
	steadyCalls, steady := heartbeat("web")
	joinCalls, join := heartbeat("ios")
	afterCalls, after := heartbeat("ios")
	t.Logf("heartbeat on AWS's rules: %.1f WCU in %d call(s) steady, %.1f in %d bringing a new client, %.1f in %d after",
		steady, steadyCalls, join, joinCalls, after, afterCalls)
	if steadyCalls != 1 || afterCalls != 1 || after != steady {
		t.Errorf("a heartbeat with a known client: %d and %d calls, %.1f and %.1f WCU; want one call each, the same cost", steadyCalls, afterCalls, steady, after)
	}
	if joinCalls != 3 {
		t.Errorf("a heartbeat with a new client: %d calls, want 3 (the write refused, the join, the write)", joinCalls)
	}
	got, err := s.SessionsPage(ctx, "acme", "u1", store.SessionQuery{Status: "all", Sort: "initiated_at", ClientID: "ios", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 1 || len(got.Sessions) != 1 {
		t.Errorf("sessions with client ios: total %d, %d listed; want 1", got.Total, len(got.Sessions))
	}
}

func TestStaleHeartbeatDoesNotMoveLastActivityBack(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStoreWith(t, c, func(p *pulse.SessionPolicy) { p.ActivityResolution = 0 }) // every heartbeat written
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	c.Add(10 * time.Second)
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"}); err != nil {
		t.Fatal(err)
	}
	c.Add(-5 * time.Second) // another instance whose clock is behind
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1", ClientID: "late", IP: "198.51.100.9"}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetSession(ctx, "acme", "u1", "S1")
	if want := start.Add(10 * time.Second); !got.LastActivity.Equal(want) || got.IPAddress != "192.0.2.1" {
		t.Errorf("last activity %v from %s, want %v from the later heartbeat's 192.0.2.1", got.LastActivity, got.IPAddress, want)
	}
	// …but the client it names is not lost (found by the load test).
	if !slices.Contains(got.ClientIDs, "late") {
		t.Errorf("clients %v: the late heartbeat's client was lost", got.ClientIDs)
	}
}

func TestActivityUnknownSession(t *testing.T) {
	s := newStore(t, newClock(start))
	err := s.RecordActivity(context.Background(), store.Activity{TenantID: "acme", UserID: "u1", SessionID: "nope"})
	var perr *pulse.Error
	if !errors.As(err, &perr) || perr.Code != pulse.ENOTFOUND {
		t.Errorf("err = %v, want %s", err, pulse.ENOTFOUND)
	}
}

// At a realistic rate, one heartbeat per session every 30 seconds for an hour (so the session
// moves in both indexes every 5 minutes), activity averages at most 1.5 WCU per call.
func TestActivityRealisticRateCost(t *testing.T) {
	ctx := context.Background()
	c := newClock(time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC))
	s := newStore(t, c)
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	var m store.Meter
	mctx := store.WithMeter(ctx, &m)
	const calls = 120
	for range calls {
		c.Add(30 * time.Second)
		if err := s.RecordActivity(mctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1"}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, wcu := m.Snapshot()
	t.Logf("a heartbeat every 30 s for an hour: %.1f WCU for %d calls, %.2f per call", wcu, calls, wcu/calls)
	if per := wcu / calls; wcu == 0 || per > 1.5 {
		t.Errorf("%.2f WCU per call, want > 0 and ≤ 1.5", per)
	}
}

// With ACTIVITY_RESOLUTION (60 s by default), a heartbeat within the resolution of the stored
// last activity that changes nothing else costs its read (eventually consistent, 0.5 RCU) and
// writes nothing; one past the resolution, or with a new address or client, or in a new bucket,
// writes as before. A session revoked a moment ago still answers ECONFLICT: a read that would
// refuse is read again, strongly consistent (0.5 + 1 RCU), before it does.
func TestActivityCoalesces(t *testing.T) {
	ctx := context.Background()
	c := newClock(time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)) // start of an index bucket
	s := newStore(t, c)
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	beat := func(step time.Duration, a store.Activity) (float64, float64, error) {
		c.Add(step)
		var m store.Meter
		a.TenantID, a.UserID, a.SessionID = "acme", "u1", "S1"
		err := s.RecordActivity(store.WithMeter(ctx, &m), a)
		rcu, wcu := m.OnAWS()
		return rcu, wcu, err
	}
	last := func() time.Time {
		got, err := s.GetSession(ctx, "acme", "u1", "S1")
		if err != nil {
			t.Fatal(err)
		}
		return got.LastActivity
	}
	same := store.Activity{IP: "192.0.2.1", ClientID: "web"}
	for _, step := range []struct {
		name   string
		after  time.Duration
		a      store.Activity
		writes bool
	}{
		{"30 s after the login, nothing new", 30 * time.Second, same, false},
		{"59 s after, no address or client", 29 * time.Second, store.Activity{}, false},
		{"61 s after the stored activity", 2 * time.Second, same, true},
		{"30 s later, another address", 30 * time.Second, store.Activity{IP: "198.51.100.9", ClientID: "web"}, true},
		{"30 s later, another client", 30 * time.Second, store.Activity{IP: "198.51.100.9", ClientID: "ios"}, true},
		{"20 s later, the same again", 20 * time.Second, store.Activity{IP: "198.51.100.9", ClientID: "ios"}, false},
		{"at 10:04:40, past the resolution", 2*time.Minute + 19*time.Second, store.Activity{}, true},
		{"at 10:05:10, 30 s later but in a new 5-minute bucket", 30 * time.Second, store.Activity{}, true},
		{"at 10:05:40, 30 s later in that bucket", 30 * time.Second, store.Activity{}, false},
	} {
		before := last()
		rcu, wcu, err := beat(step.after, step.a)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		moved := !last().Equal(before)
		if step.writes && (wcu == 0 || !moved) || !step.writes && (wcu != 0 || moved) || rcu != 0.5 {
			t.Errorf("%s: %.1f RCU, %.1f WCU, last activity moved %v; want 0.5 RCU and a write: %v", step.name, rcu, wcu, moved, step.writes)
		}
	}
	if err := s.RevokeSession(ctx, "acme", "u1", "S1"); err != nil {
		t.Fatal(err)
	}
	if rcu, _, err := beat(time.Second, store.Activity{}); code(err) != pulse.ECONFLICT || rcu != 1.5 {
		t.Errorf("a heartbeat a second after the revoke: %v, %.1f RCU; want %s after both reads (1.5 RCU)", err, rcu, pulse.ECONFLICT)
	}
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "nope"}); code(err) != pulse.ENOTFOUND {
		t.Errorf("an unknown session: %v, want %s", err, pulse.ENOTFOUND)
	}
}
