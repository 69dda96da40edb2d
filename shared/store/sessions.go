package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// sessionItem is a session as stored. Times are Unix milliseconds, so that the order of
// heartbeats within a second is kept; the API shows seconds.
type sessionItem struct {
	PK          string   `dynamodbav:"pk"`
	SK          string   `dynamodbav:"sk"`
	ActivePK    string   `dynamodbav:"apk,omitempty"`
	ActiveSK    int64    `dynamodbav:"ask,omitempty"`
	LiveKey     string   `dynamodbav:"live_key,omitempty"`
	InitKey     string   `dynamodbav:"init_key"`
	EndedKey    string   `dynamodbav:"ended_key,omitempty"`
	EndedLast   int64    `dynamodbav:"ended_last,omitempty"`
	EndedExp    int64    `dynamodbav:"ended_exp,omitempty"`
	UserName    string   `dynamodbav:"uname"`
	UserType    string   `dynamodbav:"utype"`
	ExpPK       string   `dynamodbav:"exp_pk,omitempty"`
	ExpSK       string   `dynamodbav:"exp_sk,omitempty"`
	Type        string   `dynamodbav:"type"`
	Tenant      string   `dynamodbav:"tenant"`
	User        string   `dynamodbav:"uid"`
	ID          string   `dynamodbav:"sid"`
	Key         string   `dynamodbav:"skey"`
	Clients     []string `dynamodbav:"clients,stringset,omitempty"`
	Initiated   int64    `dynamodbav:"init"`
	Last        int64    `dynamodbav:"last"`
	Expires     int64    `dynamodbav:"exp"`
	HardExpires int64    `dynamodbav:"hexp"`
	Day         string   `dynamodbav:"day"`
	Status      string   `dynamodbav:"status"`
	Ended       int64    `dynamodbav:"ended,omitempty"`
	Reason      string   `dynamodbav:"reason,omitempty"`
	IP          string   `dynamodbav:"ip,omitempty"`
	UA          string   `dynamodbav:"ua,omitempty"`
	Browser     string   `dynamodbav:"browser,omitempty"`
	Version     string   `dynamodbav:"bver,omitempty"`
	Major       int      `dynamodbav:"bmajor,omitempty"`
	OS          string   `dynamodbav:"os,omitempty"`
	CountryCode string   `dynamodbav:"cc,omitempty"`
	Country     string   `dynamodbav:"country,omitempty"`
	City        string   `dynamodbav:"city,omitempty"`
	Continent   string   `dynamodbav:"continent,omitempty"`
	Lat         string   `dynamodbav:"lat,omitempty"`
	Lon         string   `dynamodbav:"lon,omitempty"`
	Fingerprint string   `dynamodbav:"fp"`
	TTL         int64    `dynamodbav:"ttl"`
	NewDevice   bool     `dynamodbav:"newdev,omitempty"`
	NewLocation bool     `dynamodbav:"newloc,omitempty"`
}

func (it *sessionItem) session() *pulse.Session {
	s := &pulse.Session{
		TenantID: it.Tenant, UserID: it.User, ID: it.ID, Key: it.Key, ClientIDs: it.Clients,
		InitiatedAt: time.UnixMilli(it.Initiated), LastActivity: time.UnixMilli(it.Last),
		ExpiresAt: time.UnixMilli(it.Expires), HardExpires: time.UnixMilli(it.HardExpires),
		EndReason: it.Reason, IPAddress: it.IP, UserName: it.UserName, UserType: it.UserType,
		NewDevice: it.NewDevice, NewLocation: it.NewLocation,
		Device:   pulse.Device{UserAgent: it.UA, Browser: it.Browser, Version: it.Version, MajorVersion: it.Major, OS: it.OS},
		Location: pulse.Location{CountryCode: it.CountryCode, Country: it.Country, City: it.City, Continent: it.Continent, Latitude: it.Lat, Longitude: it.Lon},
	}
	if it.Ended != 0 {
		s.EndedAt = time.UnixMilli(it.Ended)
	}
	if s.ClientIDs == nil {
		s.ClientIDs = []string{}
	}
	return s
}

// sessionItemOf is the one way a session becomes a storage item (starting a session and
// importing history both use it). A live session is placed in the active and expiry indexes by
// its last activity and expiry; an ended one among the tenant's ends (endedIndexPK), and its
// TTL counts from its end.
func (s *Store) sessionItemOf(ss *pulse.Session, zone *time.Location) sessionItem {
	it := sessionItem{
		PK: userPK(ss.TenantID, ss.UserID), SK: sessionSK(ss.ID), Type: "session",
		Tenant: ss.TenantID, User: ss.UserID, ID: ss.ID, Key: ss.Key, Clients: ss.ClientIDs,
		Initiated: ss.InitiatedAt.UnixMilli(), Last: ss.LastActivity.UnixMilli(), Expires: ss.ExpiresAt.UnixMilli(),
		HardExpires: ss.HardExpires.UnixMilli(), Day: dayOf(ss.LastActivity, zone), Status: pulse.StatusActive,
		IP: ss.IPAddress, UA: ss.Device.UserAgent, Browser: ss.Device.Browser, Version: ss.Device.Version,
		Major: ss.Device.MajorVersion, OS: ss.Device.OS, CountryCode: ss.Location.CountryCode, Country: ss.Location.Country,
		City: ss.Location.City, Continent: ss.Location.Continent, Lat: ss.Location.Latitude, Lon: ss.Location.Longitude,
		InitKey: startKey(ss.InitiatedAt, ss.ID), UserName: ss.UserName, UserType: ss.UserType,
		NewDevice: ss.NewDevice, NewLocation: ss.NewLocation,
		// Kept until retention after the latest moment it can end; cleanup shortens nothing.
		TTL: s.keepUntil(ss.HardExpires),
	}
	if ss.EndReason != "" {
		it.Status, it.Reason, it.Ended = pulse.StatusEnded, ss.EndReason, ss.EndedAt.UnixMilli()
		it.TTL = s.keepUntil(ss.EndedAt)
		it.EndedKey = it.InitKey
		if ss.EndReason != pulse.EndErased {
			it.EndedLast, it.EndedExp = it.Last, it.Expires
			it.ActivePK = endedIndexPK(ss.TenantID, ss.EndedAt, shardOf(ss.ID, endedShards))
			it.ActiveSK = endedIndexSK(ss.EndedAt)
		}
		return it
	}
	it.LiveKey = it.InitKey
	it.ActivePK = activeIndexPK(ss.TenantID, ss.LastActivity, shardOf(ss.ID, s.shards))
	it.ActiveSK = activeIndexSK(ss.InitiatedAt)
	it.ExpPK = expiryIndexPK(ss.ExpiresAt, shardOf(ss.ID, expiryShards))
	it.ExpSK = expiryIndexSK(ss.TenantID, ss.UserID, ss.ID)
	return it
}

// dayItem records that a user was active on a day; the Days index finds it by tenant and month.
type dayItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	DayPK  string `dynamodbav:"day_pk"`
	DaySK  string `dynamodbav:"day_sk"`
	Type   string `dynamodbav:"type"`
	Tenant string `dynamodbav:"tenant"`
	User   string `dynamodbav:"uid"`
	Day    string `dynamodbav:"day"`
	TTL    int64  `dynamodbav:"ttl"`
}

func (s *Store) dayItem(tenant, user, day string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(dayItem{
		PK: userPK(tenant, user), SK: daySK(day), DayPK: dayIndexPK(tenant, day[:7]), DaySK: dayIndexSK(day, user),
		Type: "day", Tenant: tenant, User: user, Day: day,
		TTL: s.now().Add(24*time.Hour + s.policy.ActivityKeep).Unix(),
	})
}

// dayOf returns the calendar day of t in zone (UTC when nil), as YYYY-MM-DD.
func dayOf(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format(time.DateOnly)
}

// NewSession is what starting a session needs; the caller has parsed and validated it.
type NewSession struct {
	TenantID  string
	UserID    string
	SessionID string // "" to generate one
	ClientID  string
	IP        string
	Device    pulse.Device
	Location  pulse.Location
	Zone      *time.Location // the tenant's, for the day of activity
}

// fingerprint identifies what a create request asked for, so that a retry with the same
// session ID is told apart from a different request reusing it.
func (n *NewSession) fingerprint() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{n.ClientID, n.IP, n.Device.UserAgent}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// CreateSession starts a session, creating the user when the tenant has none by that ID, and
// records the day's activity, all in one transaction. With a caller-chosen session ID the call
// is idempotent: the same request returns the stored session (created=false); a different one
// is ECONFLICT.
func (s *Store) CreateSession(ctx context.Context, n NewSession) (*pulse.Session, bool, error) {
	const op = "create session"
	now := s.now().Truncate(time.Millisecond)
	if n.SessionID == "" {
		n.SessionID = s.ids.NewID()
	}
	hard := now.Add(s.policy.MaxLifetime)
	keySum := sha256.Sum256(s.ids.NewSecret(32))
	base := &pulse.Session{
		TenantID: n.TenantID, UserID: n.UserID, ID: n.SessionID, Key: strings.ToUpper(hex.EncodeToString(keySum[:])),
		ClientIDs: []string{n.ClientID}, InitiatedAt: now, LastActivity: now, ExpiresAt: s.policy.Expiry(now, hard), HardExpires: hard,
		IPAddress: n.IP, Device: n.Device, Location: n.Location,
	}
	// A login races a rename, other logins, a reconciliation at the cap, or a deletion: each
	// round reads the user, writes on the condition that nothing of it changed, and reads again
	// when something did, after a jittered pause, for as long as the request's deadline allows.
	// A round that made room at the cap itself is followed at once: nothing raced it, and a
	// pause there would be paid by every login at the cap (up to 10 ms, 5 on average).
	pause := true
	for round := 0; ; round++ {
		if round > 0 && !nextRound(ctx, round, pause) {
			return nil, false, fail(op, fmt.Errorf("the user kept changing: gave up after %d rounds", round))
		}
		pause = true
		var u userItem
		found, err := s.get(ctx, op, userPK(n.TenantID, n.UserID), userSK(), true, &u)
		if err != nil {
			return nil, false, err
		}
		if u.Erased != 0 {
			return nil, false, pulse.Conflict(op, pulse.EntityUser, n.UserID, pulse.ReasonErasing)
		}
		base.UserName, base.UserType = u.Name, u.UType // shown by the active list without a read of the user
		upd, seen, newDevice, newLocation := s.noteSeen(expression.UpdateBuilder{}, &u, deviceKey(n.Device), n.Location.CountryCode, now)
		base.NewDevice, base.NewLocation = newDevice, newLocation
		it := s.sessionItemOf(base, n.Zone)
		it.Fingerprint = n.fingerprint()
		sess, err := attributevalue.MarshalMap(it)
		if err != nil {
			return nil, false, fail(op, err)
		}
		day, err := s.dayItem(n.TenantID, n.UserID, it.Day)
		if err != nil {
			return nil, false, fail(op, err)
		}
		// The user springs into being with its first session; an existing profile is untouched.
		ms := now.UnixMilli()
		upd = upd.Set(expression.Name("type"), expression.Value("user")).
			Set(expression.Name("tenant"), expression.Value(n.TenantID)).
			Set(expression.Name("uid"), expression.Value(n.UserID)).
			Set(expression.Name("name"), expression.IfNotExists(expression.Name("name"), expression.Value(""))).
			Set(expression.Name("utype"), expression.IfNotExists(expression.Name("utype"), expression.Value(""))).
			Set(expression.Name("roles"), expression.IfNotExists(expression.Name("roles"), expression.Value([]string{}))).
			Set(expression.Name("created"), expression.IfNotExists(expression.Name("created"), expression.Value(ms))).
			Set(expression.Name("updated"), expression.IfNotExists(expression.Name("updated"), expression.Value(ms))).
			Add(expression.Name("live"), expression.Value(1)).
			Add(expression.Name(attrLiveVer), expression.Value(1))
		cond := seen.And(expression.AttributeNotExists(expression.Name(attrPK)))
		if found {
			cond = seen.And(expression.Name("updated").Equal(expression.Value(u.Updated))).And(expression.AttributeNotExists(expression.Name("erased"))).And(expression.Or(
				expression.AttributeNotExists(expression.Name("live")),
				expression.Name("live").LessThan(expression.Value(s.policy.MaxPerUser))))
		}
		upd, cond = s.countStart(upd, cond, &u, n.ClientID, now)
		upd = markIndexed(upd, found, &u, now)
		// The tenant's activity counters learn of this login in the same transaction, from the
		// user just read: the hour and day it counts in, and a new user of the day.
		upd, cond, c := counting(&u, upd, cond, now, now, n.Zone)
		if !found {
			c.add(dayOf(now, n.Zone), "new", 1)
		}
		stats, err := s.statUpdates(n.TenantID, n.UserID, c)
		if err != nil {
			return nil, false, fail(op, err)
		}
		userUpd, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
		if err != nil {
			return nil, false, fail(op, err)
		}
		items := []types.TransactWriteItem{
			{Put: &types.Put{Item: sess, ConditionExpression: aws.String("attribute_not_exists(pk)"),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Update: &types.Update{Key: key(userPK(n.TenantID, n.UserID), userSK()),
				UpdateExpression: userUpd.Update(), ConditionExpression: userUpd.Condition(),
				ExpressionAttributeNames: userUpd.Names(), ExpressionAttributeValues: userUpd.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Put: &types.Put{Item: day}},
		}
		err = s.transact(ctx, op, append(items, stats...)...)
		if code, old := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
			var prev sessionItem
			if old == nil {
				return nil, false, fail(op, err)
			}
			if err := attributevalue.UnmarshalMap(old, &prev); err != nil {
				return nil, false, fail(op, err)
			}
			if prev.Fingerprint != it.Fingerprint {
				return nil, false, pulse.Conflict(op, pulse.EntitySession, n.SessionID, pulse.ReasonExists)
			}
			// A retried login counts what the first attempt may not have (counting is idempotent).
			if err := s.countActivity(ctx, n.TenantID, n.UserID, now, now, n.Zone); err != nil {
				return nil, false, err
			}
			return prev.session(), false, nil
		} else if code, old := cancelledBy(err, 1); code == "ConditionalCheckFailed" {
			var cur userItem
			if old != nil {
				if err := attributevalue.UnmarshalMap(old, &cur); err != nil {
					return nil, false, fail(op, err)
				}
			}
			if cur.Erased != 0 {
				return nil, false, pulse.Conflict(op, pulse.EntityUser, n.UserID, pulse.ReasonErasing)
			}
			if old == nil || !found || cur.Updated != u.Updated || cur.Live < s.policy.MaxPerUser {
				continue // created, renamed or deleted meanwhile: read the user again
			}
			made, err := s.makeRoom(ctx, n.TenantID, n.UserID, &cur)
			if err != nil {
				return nil, false, err
			}
			pause = !made
			continue
		} else if conflicted(err) {
			continue // another transaction on one of its items (a counter) at once: try again
		} else if err != nil {
			return nil, false, fail(op, err)
		}
		return it.session(), true, nil
	}
}

// Rounds of a write that contends for one item: a pause with full jitter between them, growing
// from pauseBase to pauseMax, and none that would end past the request's deadline less
// pauseReserve (what the round after it and the answer need). Without a deadline, at most
// maxRounds.
const (
	pauseBase    = 5 * time.Millisecond
	pauseMax     = 200 * time.Millisecond
	pauseReserve = 500 * time.Millisecond
	maxRounds    = 200
)

// nextRound waits before round n (1, 2, …) of a contended write, when pause says the round
// before met a race, and reports whether that round may run: false when ctx is done, or its
// deadline too near, or after maxRounds without one.
func nextRound(ctx context.Context, n int, pause bool) bool {
	var d time.Duration
	if pause {
		d = min(pauseMax, pauseBase<<min(n, 10))
		d = time.Duration(rand.Int64N(int64(d)) + 1)
	}
	if deadline, ok := ctx.Deadline(); ok {
		if time.Until(deadline) < d+pauseReserve {
			return false
		}
	} else if n >= maxRounds {
		return false
	}
	if d == 0 {
		return ctx.Err() == nil
	}
	return pauseFor(ctx, d)
}

// pauseFor waits d, or less when ctx is done first, and reports whether the wait ran its
// course. A variable so that tests can count the pauses a request takes (export_test.go).
var pauseFor = func(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// countStart adds the session of client starting at now to the user's start counters
// (userItem.Starts, userItem.ClientStarts) and drops the days past the listing horizon. A map
// is created whole when the user has none yet; either way the condition makes a racing login
// (or a heartbeat's joinClient) that changed that read again.
func (s *Store) countStart(upd expression.UpdateBuilder, cond expression.ConditionBuilder, u *userItem, client string, now time.Time) (expression.UpdateBuilder, expression.ConditionBuilder) {
	day, first := startDay(now), s.horizon(now)
	if u.Starts == nil {
		upd, cond = upd.Set(expression.Name(attrStarts), expression.Value(map[string]int{day: 1})),
			cond.And(expression.AttributeNotExists(expression.Name(attrStarts)))
	} else {
		path := expression.Name(attrStarts + "." + day)
		upd = upd.Set(path, expression.Plus(expression.IfNotExists(path, expression.Value(0)), expression.Value(1)))
		for d := range u.Starts {
			if d < first {
				upd = upd.Remove(expression.Name(attrStarts + "." + d))
			}
		}
		cond = cond.And(expression.AttributeExists(expression.Name(attrStarts)))
	}
	if u.ClientStarts == nil {
		return upd.Set(expression.Name(attrCStarts), expression.Value(map[string]int{clientStartKey(day, client): 1})),
			cond.And(expression.AttributeNotExists(expression.Name(attrCStarts)))
	}
	var past []string
	for k := range u.ClientStarts {
		if d, _, _ := strings.Cut(k, "#"); d < first {
			past = append(past, k)
		}
	}
	if s.clientCountsFull(u.ClientStarts, day, client, len(past)) {
		upd, c := restartClientCounts(upd, day, client, now) // the whole map replaced: nothing to prune
		return upd, cond.And(c)
	}
	for _, k := range past {
		d, c, _ := strings.Cut(k, "#")
		upd = upd.Remove(clientStartPath(d, c))
	}
	upd, c := countClient(upd, day, client, s.maxClientStarts()+len(past))
	return upd, cond.And(c)
}

// horizon is the first UTC day whose sessions are listed: the retention counts from the day a
// session started, so that a list's total is a sum of whole days (userItem.Starts). Sessions
// are deleted by TTL a day after their last day listed (keepUntil).
func (s *Store) horizon(now time.Time) string { return startDay(now.Add(-s.policy.Retention)) }

// keepUntil is the TTL of a session that can last until t: a day (the horizon's granularity)
// plus the retention after it, never before its start day leaves the horizon.
func (s *Store) keepUntil(t time.Time) int64 { return t.Add(24*time.Hour + s.policy.Retention).Unix() }

// roomLookahead is how many sessions beyond the ones a login at the cap must free it reads, oldest
// first, looking for expired ones to end instead of evicting a live one (or refusing the login).
const roomLookahead = 7

// makeRoom runs when the user's login counter u.Live has reached the cap. It counts the user's
// live sessions from the Live index's keys (strongly consistent, tens of bytes each) and reads
// only the oldest of them, as many as must go plus roomLookahead: those that expired and wait
// for the cleanup are ended (each frees a place), then the oldest live ones are evicted so that
// one more fits (LimitEvict), or the login is refused (LimitRefuse: ECONFLICT naming the limit).
// A newer session that expired keeps its place until the cleanup ends it (CleanupSchedule plus
// one expiry bucket at most): reading all of them cost a whole RCU each, 105 at the cap of 100.
//
// The evictions and the counter's new value are one transaction, conditioned on the counter's
// version being the one read before the keys were: a login or another reconciliation since then
// cancels it, and the caller reads again. So concurrent logins at the cap evict one session
// each, the oldest live, and the counter never falls below the live sessions. It reports
// whether its own transaction was written: false when one of those came first.
func (s *Store) makeRoom(ctx context.Context, tenant, user string, u *userItem) (bool, error) {
	const op = "make room for a session"
	now := s.now()
	ids, err := s.liveIDs(ctx, op, tenant, user) // oldest first
	if err != nil {
		return false, err
	}
	freed, evict := 0, []string(nil)
	if need := len(ids) - s.policy.MaxPerUser + 1; need > 0 {
		oldest := ids[:min(len(ids), need+roomLookahead)]
		keys := make([]map[string]types.AttributeValue, len(oldest))
		for i, id := range oldest {
			keys[i] = key(userPK(tenant, user), sessionSK(id))
		}
		items, err := s.batchGet(ctx, op, keys, true, nil)
		if err != nil {
			return false, err
		}
		byID := make(map[string]*pulse.Session, len(items))
		for _, raw := range items {
			var it sessionItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return false, fail(op, err)
			}
			ss := it.session()
			byID[ss.ID] = ss
		}
		var live []string
		for _, id := range oldest {
			switch ss := byID[id]; {
			case ss == nil: // erased since the keys were read
				freed++
			case ss.Live(now):
				live = append(live, id)
			default: // expired (ended now) or ended since the keys were read
				if _, err := s.EndExpired(ctx, ss, now); err != nil {
					return false, err
				}
				freed++
			}
		}
		if freed < need {
			if s.policy.LimitPolicy == pulse.LimitRefuse {
				return false, &pulse.Error{Code: pulse.ECONFLICT, Op: op, Entity: pulse.EntityUser, ID: user,
					Reason: pulse.ReasonLimit, Need: strconv.Itoa(s.policy.MaxPerUser)}
			}
			// A transaction holds 100 items: past 99 evictions (a cap lowered a lot), the next
			// round evicts the rest.
			evict = live[:min(need-freed, len(live), 99)]
		}
	}
	ver := expression.Name(attrLiveVer).Equal(expression.Value(u.LiveVer))
	if u.LiveVer == 0 {
		ver = expression.AttributeNotExists(expression.Name(attrLiveVer))
	}
	expr, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name("live"), expression.Value(len(ids)-freed-len(evict))).
		Add(expression.Name(attrLiveVer), expression.Value(1))).WithCondition(ver).Build()
	if err != nil {
		return false, fail(op, err)
	}
	items := []types.TransactWriteItem{{Update: &types.Update{Key: key(userPK(tenant, user), userSK()),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}}
	endedAt := now.Truncate(time.Millisecond)
	for _, id := range evict {
		e, err := expression.NewBuilder().WithUpdate(s.endUpdate(tenant, id, endedAt, pulse.EndEvicted)).
			WithCondition(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).Build()
		if err != nil {
			return false, fail(op, err)
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{Key: key(userPK(tenant, user), sessionSK(id)),
			UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}})
	}
	// Done, or a login, a revoke or another reconciliation came first (false): either way the
	// caller reads the user again.
	if err := s.transact(ctx, op, items...); conflicted(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// liveSessions returns the user's sessions that have not recorded an end (expired ones
// included), oldest first: the Live index, items fetched from the table, strongly consistent.
// Their number is bounded by the session cap.
func (s *Store) liveSessions(ctx context.Context, op, tenant, user string) ([]*pulse.Session, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	return s.querySessions(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexLive), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		Select: types.SelectAllAttributes, ConsistentRead: aws.Bool(true)})
}

// liveIDs returns the IDs of the user's sessions that have not recorded an end (expired ones
// included), oldest first, from the Live index's keys alone (strongly consistent): tens of
// bytes each, where reading the sessions themselves costs a whole RCU each.
func (s *Store) liveIDs(ctx context.Context, op, tenant, user string) ([]string, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var ids []string
	// What the index holds (keys and the client list), never a ProjectionExpression: DynamoDB
	// Local then charges every session's whole item as if fetched from the table (102 RCU for
	// 100 entries against 2), which would hide what this read costs.
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexLive), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		Select: types.SelectAllProjectedAttributes, ConsistentRead: aws.Bool(true)}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok {
				ids = append(ids, strings.TrimPrefix(sk.Value, sessionPrefix))
			}
		}
		return true, nil
	})
	return ids, err
}

// querySessions runs a Query whose items are sessions and decodes them all.
func (s *Store) querySessions(ctx context.Context, op string, in *dynamodb.QueryInput) ([]*pulse.Session, error) {
	var out []*pulse.Session
	err := s.query(ctx, op, in, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, raw := range page {
			var it sessionItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return false, err
			}
			out = append(out, it.session())
		}
		return true, nil
	})
	return out, err
}

// GetSession returns one of a user's sessions, ended ones included; ENOTFOUND when the user has
// no such session in this tenant.
func (s *Store) GetSession(ctx context.Context, tenant, user, id string) (*pulse.Session, error) {
	const op = "get session"
	item, err := s.getOfLiveUser(ctx, op, tenant, user, sessionSK(id))
	if err != nil || item == nil {
		return nil, orNotFound(err, op, pulse.EntitySession, id)
	}
	var it sessionItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fail(op, err)
	}
	return it.session(), nil
}

// getOfLiveUser reads one item of a user's partition (sk) and the user in one strongly
// consistent request, and returns the item, or nil when it is missing or the user is being
// erased: what a user's erasure takes is gone at once, whatever is left to delete.
func (s *Store) getOfLiveUser(ctx context.Context, op, tenant, user, sk string) (map[string]types.AttributeValue, error) {
	raw, err := s.batchGet(ctx, op, []map[string]types.AttributeValue{key(userPK(tenant, user), sk), key(userPK(tenant, user), userSK())}, true, nil)
	if err != nil {
		return nil, err
	}
	var found map[string]types.AttributeValue
	erased := false
	for _, item := range raw {
		switch got, _ := item[attrSK].(*types.AttributeValueMemberS); {
		case got == nil:
		case got.Value == userSK():
			var u userItem
			if err := attributevalue.UnmarshalMap(item, &u); err != nil {
				return nil, fail(op, err)
			}
			erased = u.Erased != 0
		case got.Value == sk:
			found = item
		}
	}
	if erased {
		return nil, nil
	}
	return found, nil
}

// orNotFound returns err, or ENOTFOUND for entity id when there is none.
func orNotFound(err error, op, entity, id string) error {
	if err != nil {
		return err
	}
	return pulse.NotFound(op, entity, id)
}

// endUpdate is how every end of session id of tenant is written (revoke, eviction, cleanup,
// erasure): the session keeps its end time and reason until the retention's TTL, leaves the
// Expiry and Live indexes, enters the user's Ended index, and its Active-index entry moves from
// the live buckets to the tenant's ends of that day (endedIndexPK), where the search of ended
// sessions finds it. An erased user's sessions leave the Active index instead: they are going,
// and no search may show them.
func (s *Store) endUpdate(tenant, id string, endedAt time.Time, reason string) expression.UpdateBuilder {
	u := expression.Set(expression.Name("status"), expression.Value(pulse.StatusEnded)).
		Set(expression.Name("ended"), expression.Value(endedAt.UnixMilli())).
		Set(expression.Name("reason"), expression.Value(reason)).
		Set(expression.Name(attrTTL), expression.Value(s.keepUntil(endedAt))).
		Set(expression.Name(attrEndedKey), expression.Name(attrInitKey)).
		Remove(expression.Name(attrExpPK)).Remove(expression.Name(attrExpSK)).
		Remove(expression.Name(attrLiveKey))
	if reason == pulse.EndErased {
		return u.Remove(expression.Name(attrActivePK)).Remove(expression.Name(attrActiveSK))
	}
	// The last activity and the expiry are final now: the copies enter the user's EndedLast and
	// EndedExp indexes, which page the ended sessions by them (the session list by last_updated
	// and expires_at). Copies within the same update, so that no end needs to read the session first.
	return u.Set(expression.Name(attrEndLast), expression.Name("last")).
		Set(expression.Name(attrEndExp), expression.Name("exp")).
		Set(expression.Name(attrActivePK), expression.Value(endedIndexPK(tenant, endedAt, shardOf(id, endedShards)))).
		Set(expression.Name(attrActiveSK), expression.Value(endedIndexSK(endedAt)))
}

// RevokeSession ends a live session at once and takes it out of the active buckets. Revoking an
// ended session changes nothing and is not an error; ENOTFOUND when there is no such session.
func (s *Store) RevokeSession(ctx context.Context, tenant, user, id string) error {
	return s.end(ctx, "revoke session", tenant, user, id, pulse.EndRevoked)
}

// end records the end of a live session now, for reason; a session already ended is left as
// it is, ENOTFOUND when there is none.
func (s *Store) end(ctx context.Context, op, tenant, user, id, reason string) error {
	now := s.now().Truncate(time.Millisecond)
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).
		And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli())))
	expr, err := expression.NewBuilder().WithUpdate(s.endUpdate(tenant, id, now, reason)).WithCondition(cond).Build()
	if err != nil {
		return fail(op, err)
	}
	_, err = s.updateItem(ctx, op, &dynamodb.UpdateItemInput{
		Key:              key(userPK(tenant, user), sessionSK(id)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if failed, item := conditionFailed(err); failed {
		if item == nil {
			return pulse.NotFound(op, pulse.EntitySession, id)
		}
		return nil // already ended (revoked, or expired and awaiting cleanup)
	}
	return err
}

// RevokeUserSessions revokes every live session of a user and returns how many it ended;
// ENOTFOUND for an unknown user. It reads the user's live sessions only (the Live index):
// its cost grows with them, never with the user's history.
func (s *Store) RevokeUserSessions(ctx context.Context, tenant, user string) (int, error) {
	const op = "revoke user sessions"
	var u userItem
	if found, err := s.get(ctx, op, userPK(tenant, user), userSK(), true, &u); err != nil {
		return 0, err
	} else if !found || u.Erased != 0 {
		return 0, pulse.NotFound(op, pulse.EntityUser, user)
	}
	// The Live index's keys only: a session that expired but awaits the cleanup fails its
	// condition and is left to the cleanup, which records why it ended.
	ids, err := s.liveIDs(ctx, op, tenant, user)
	if err != nil {
		return 0, err
	}
	// Conditional writes in transactions of 100, endParallel transactions at a time: thousands
	// end in a few round trips instead of one after another.
	return s.endAll(ctx, op, tenant, user, ids, pulse.EndRevoked)
}
