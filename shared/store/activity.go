package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"golang.org/x/sync/errgroup"
)

// Activity is a heartbeat on a session. Nil or empty fields leave what is stored.
type Activity struct {
	TenantID  string
	UserID    string
	SessionID string
	ClientID  string
	IP        string
	Device    *pulse.Device
	Location  *pulse.Location
	Zone      *time.Location
	// At is when the activity happened, when it is not now (a batch's "at"): in the past,
	// within the idle timeout. The caller checks the bounds; zero means now.
	At time.Time
}

// RecordActivity marks a live session active now and slides its expiry. In steady state (same
// active-index bucket, same day) it is one conditional UpdateItem that writes no index; the
// session moves in the active index once per bucket, and a user-day item is written only on
// the first activity of the session on a new day. Activity on an ended or expired session is
// ECONFLICT; the condition on the write decides, not an earlier read.
//
// With an activity resolution (ACTIVITY_RESOLUTION), the session is read first, as a batch
// reads it (eventually consistent, 0.5 RCU for a session under 4 KB; see RecordActivities),
// and activity within the resolution of its stored last activity that would change nothing
// else writes nothing (see coalesces).
func (s *Store) RecordActivity(ctx context.Context, a Activity) error {
	const op = "record activity"
	now := s.now().Truncate(time.Millisecond)
	if s.policy.ActivityResolution > 0 {
		var item *sessionItem
		for _, consistent := range []bool{false, true} {
			var cur sessionItem
			found, err := s.get(ctx, op, userPK(a.TenantID, a.UserID), sessionSK(a.SessionID), consistent, &cur)
			if err != nil {
				return err
			}
			if item = nil; found {
				item = &cur
			}
			if !refusable(item, now) {
				break
			}
		}
		if done, err := s.settledByRead(item, a, now); done {
			return err
		}
	}
	return s.write(ctx, a, now)
}

// refusable reports whether the session as read (nil: there is none) would refuse activity at
// now: missing, ended or expired. An eventually consistent read that says so is read again,
// strongly consistent, before the activity is refused: a session started a moment ago may be
// missing from it, and one about to expire that another heartbeat has just kept alive may show
// its old expiry.
func refusable(it *sessionItem, now time.Time) bool {
	return it == nil || it.Status != pulse.StatusActive || it.Expires <= now.UnixMilli()
}

// settledByRead decides activity a from the session as read (nil: there is none) when the read
// is enough: missing (ENOTFOUND), ended or expired (ECONFLICT), or coalesced into what is
// stored (nil error). done is false when only a write can decide.
func (s *Store) settledByRead(cur *sessionItem, a Activity, now time.Time) (done bool, err error) {
	switch {
	case cur == nil:
		return true, pulse.NotFound("record activity", pulse.EntitySession, a.SessionID)
	case cur.Status != pulse.StatusActive || cur.Expires <= now.UnixMilli():
		return true, pulse.Conflict("record activity", pulse.EntitySession, a.SessionID, pulse.ReasonEnded)
	case a.ClientID != "" && !slices.Contains(cur.Clients, a.ClientID) && len(cur.Clients) >= pulse.MaxSessionClients:
		return true, clientsFull(a.SessionID)
	case s.policy.ActivityResolution > 0 && s.coalesces(cur, a, a.when(now)):
		return true, nil
	}
	return false, nil
}

// clientsFull is the refusal of a client new to a session that has pulse.MaxSessionClients.
func clientsFull(session string) error {
	return &pulse.Error{Code: pulse.ECONFLICT, Op: "record activity", Entity: pulse.EntitySession, ID: session,
		Reason: pulse.ReasonLimit, Need: strconv.Itoa(pulse.MaxSessionClients)}
}

// when is the time of the activity: At, or now.
func (a Activity) when(now time.Time) time.Time {
	if a.At.IsZero() {
		return now
	}
	return a.At.Truncate(time.Millisecond)
}

// write is the heartbeat's conditional write and what follows it on a new day or hour.
func (s *Store) write(ctx context.Context, a Activity, now time.Time) error {
	const op = "record activity"
	ended := pulse.Conflict(op, pulse.EntitySession, a.SessionID, pulse.ReasonEnded)
	at := a.when(now)
	exp := at.Add(s.policy.IdleTimeout)
	for attempt := 0; attempt < 3; attempt++ {
		old, err := s.touch(ctx, a, at, now, exp)
		if err == nil {
			if old.Day != dayOf(at, a.Zone) {
				if err := s.putDay(ctx, a.TenantID, a.UserID, dayOf(at, a.Zone)); err != nil {
					return err
				}
			}
			// The session's first activity of an hour: the tenant's counters learn of the hours
			// (and day) since its previous activity. A steady heartbeat never gets here.
			if prev := time.UnixMilli(old.Last); hourLabel(prev, a.Zone) != hourLabel(at, a.Zone) {
				return s.countActivity(ctx, a.TenantID, a.UserID, prev, at, a.Zone)
			}
			return nil
		}
		failed, item := conditionFailed(err)
		if !failed {
			return fail(op, err)
		}
		if item == nil {
			return pulse.NotFound(op, pulse.EntitySession, a.SessionID)
		}
		var cur sessionItem
		if err := attributevalue.UnmarshalMap(item, &cur); err != nil {
			return fail(op, err)
		}
		switch {
		case cur.Status != pulse.StatusActive || cur.Expires <= now.UnixMilli():
			return ended
		case a.ClientID != "" && !slices.Contains(cur.Clients, a.ClientID):
			// A client new to the session joins it, counted once, before the heartbeat is
			// written again (a later heartbeat stored meanwhile still leaves it joined).
			if err := s.joinClient(ctx, a, cur.Initiated, now); err != nil {
				return err
			}
		case cur.Last > at.UnixMilli():
			return nil // a later heartbeat is already stored: its time, address and browser stand
		case cur.HardExpires < exp.UnixMilli():
			exp = time.UnixMilli(cur.HardExpires) // near the end of its lifetime: cap, try again
		default:
			return fail(op, err)
		}
	}
	return ended
}

// RecordActivities records a batch of activity, each entry as RecordActivity would, and
// returns each entry's outcome in order (nil: recorded, or coalesced into what is stored).
//
// The sessions are read once with BatchGetItem (each distinct session once), eventually
// consistent: 0.5 RCU a session where a strongly consistent read costs 1, which pays for the
// LiveTimes index's rewrite of a written session (BENCHMARKS.md, section 5). That read, with
// what it shows missing, ended or expired read again strongly consistent, answers missing and
// ended sessions and, with an activity resolution, coalesces without a write; the write's
// condition decides the rest. The one answer it can give that a strongly consistent read would
// not: within the moment a read lags (typically under a second), activity on a session that
// has just ended (or whose user was just erased) that would have coalesced is answered
// recorded. It writes nothing, so the end stands; it is the answer the activity would have had
// a moment earlier. The writes left go out writeFanOut at a time, one session's
// entries in the order of their times (each then coalesces against the one before). An entry
// whose write the context's end cut, or that had not started by then, is EUNAVAILABLE: the
// caller retries it (recording the same activity twice is harmless), it is never dropped.
func (s *Store) RecordActivities(ctx context.Context, acts []Activity) []error {
	const op = "record activity"
	errs := make([]error, len(acts))
	now := s.now().Truncate(time.Millisecond)
	type sessionKey struct{ pk, sk string }
	bySession := map[sessionKey][]int{}
	var order []sessionKey
	var keys []map[string]types.AttributeValue
	for i, a := range acts {
		k := sessionKey{userPK(a.TenantID, a.UserID), sessionSK(a.SessionID)}
		if _, seen := bySession[k]; !seen {
			order = append(order, k)
			keys = append(keys, key(k.pk, k.sk))
		}
		bySession[k] = append(bySession[k], i)
	}
	read := make(map[sessionKey]*sessionItem, len(keys))
	add := func(items []map[string]types.AttributeValue) error {
		for _, item := range items {
			var it sessionItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fail(op, err)
			}
			read[sessionKey{it.PK, it.SK}] = &it
		}
		return nil
	}
	items, err := s.batchGet(ctx, op, keys, false, nil)
	if err == nil {
		err = add(items)
	}
	if err == nil {
		// What the read alone would refuse is read again, strongly consistent (refusable).
		var again []map[string]types.AttributeValue
		for _, k := range order {
			if refusable(read[k], now) {
				again = append(again, key(k.pk, k.sk))
				delete(read, k)
			}
		}
		if len(again) > 0 {
			if items, err = s.batchGet(ctx, op, again, true, nil); err == nil {
				err = add(items)
			}
		}
	}
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	// Not errgroup.WithContext: one entry's failure must not cut the others.
	var g errgroup.Group
	g.SetLimit(writeFanOut)
	for _, k := range order {
		entries := bySession[k]
		slices.SortStableFunc(entries, func(i, j int) int { return acts[i].when(now).Compare(acts[j].when(now)) })
		g.Go(func() error {
			cur := read[k]
			for _, i := range entries {
				a := acts[i]
				if done, err := s.settledByRead(cur, a, now); done {
					errs[i] = err
					continue
				}
				if ctx.Err() != nil {
					errs[i] = fail(op, ctx.Err())
					continue
				}
				if errs[i] = s.write(ctx, a, now); errs[i] == nil {
					cur.apply(a, a.when(now), s.policy.IdleTimeout)
				}
			}
			return nil
		})
	}
	_ = g.Wait() // every entry's outcome is in errs
	return errs
}

// writeFanOut is how many of a batch's sessions are written at once.
const writeFanOut = 32

// apply makes the session as read what a successful write of activity a at at made it, as far
// as coalesces looks, so that a batch's next entry for it is judged against it.
func (it *sessionItem) apply(a Activity, at time.Time, idle time.Duration) {
	if at.UnixMilli() > it.Last {
		it.Last, it.Day = at.UnixMilli(), dayOf(at, a.Zone)
		it.Expires = max(it.Expires, min(at.Add(idle).UnixMilli(), it.HardExpires))
		if a.IP != "" {
			it.IP = a.IP
		}
		if d := a.Device; d != nil {
			it.UA, it.Browser, it.Version, it.Major, it.OS = d.UserAgent, d.Browser, d.Version, d.MajorVersion, d.OS
		}
		if l := a.Location; l != nil && l.CountryCode != "" {
			it.CountryCode, it.Country, it.City, it.Continent, it.Lat, it.Lon = l.CountryCode, l.Country, l.City, l.Continent, l.Latitude, l.Longitude
		}
	}
	if a.ClientID != "" && !slices.Contains(it.Clients, a.ClientID) {
		it.Clients = append(it.Clients, a.ClientID)
	}
}

// coalesces reports whether activity a at now changes nothing a reader could tell from the
// stored session cur beyond the resolution: it comes within ActivityResolution of the stored
// last activity (or before it), in the same active-index bucket, day and hour (so the active
// index, the user-day items and the counters move exactly as they would have), from the same
// address, browser and place, with a client the session already has. Last activity and expiry
// then lag the truth by less than the resolution.
func (s *Store) coalesces(cur *sessionItem, a Activity, now time.Time) bool {
	last := time.UnixMilli(cur.Last)
	if now.Sub(last) >= s.policy.ActivityResolution {
		return false
	}
	if now.After(last) && (!now.Truncate(activeBucket).Equal(last.Truncate(activeBucket)) || dayOf(now, a.Zone) != cur.Day ||
		hourLabel(now, a.Zone) != hourLabel(last, a.Zone)) {
		return false
	}
	if a.IP != "" && a.IP != cur.IP || a.ClientID != "" && !slices.Contains(cur.Clients, a.ClientID) {
		return false
	}
	if d := a.Device; d != nil && (d.UserAgent != cur.UA || d.Browser != cur.Browser || d.Version != cur.Version || d.OS != cur.OS) {
		return false
	}
	if l := a.Location; l != nil && l.CountryCode != "" && (l.CountryCode != cur.CountryCode || l.Country != cur.Country || l.City != cur.City ||
		l.Continent != cur.Continent || l.Latitude != cur.Lat || l.Longitude != cur.Lon) {
		return false
	}
	return true
}

// touch is the heartbeat's one write: the session was last active at at, and is live now. It
// returns the old values of what it changed.
func (s *Store) touch(ctx context.Context, a Activity, at, now, exp time.Time) (*sessionItem, error) {
	upd := expression.Set(expression.Name("last"), expression.Value(at.UnixMilli())).
		Set(expression.Name("exp"), expression.Value(exp.UnixMilli())).
		Set(expression.Name("day"), expression.Value(dayOf(at, a.Zone))).
		// Rewriting the same key values writes no index item; a new bucket moves the session.
		Set(expression.Name(attrActivePK), expression.Value(activeIndexPK(a.TenantID, at, shardOf(a.SessionID, s.shards)))).
		Set(expression.Name(attrExpPK), expression.Value(expiryIndexPK(exp, shardOf(a.SessionID, expiryShards)))).
		Set(expression.Name(attrExpSK), expression.Value(expiryIndexSK(a.TenantID, a.UserID, a.SessionID)))
	if a.IP != "" {
		upd = upd.Set(expression.Name("ip"), expression.Value(a.IP))
	}
	if d := a.Device; d != nil {
		upd = upd.Set(expression.Name("ua"), expression.Value(d.UserAgent)).
			Set(expression.Name("browser"), expression.Value(d.Browser)).
			Set(expression.Name("bver"), expression.Value(d.Version)).
			Set(expression.Name("bmajor"), expression.Value(d.MajorVersion)).
			Set(expression.Name("os"), expression.Value(d.OS))
	}
	if l := a.Location; l != nil && l.CountryCode != "" {
		upd = upd.Set(expression.Name("cc"), expression.Value(l.CountryCode)).
			Set(expression.Name("country"), expression.Value(l.Country)).
			Set(expression.Name("city"), expression.Value(l.City)).
			Set(expression.Name("continent"), expression.Value(l.Continent)).
			Set(expression.Name("lat"), expression.Value(l.Latitude)).
			Set(expression.Name("lon"), expression.Value(l.Longitude))
	}
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("status").Equal(expression.Value(pulse.StatusActive))).
		And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli()))).
		And(expression.Name("hexp").GreaterThanEqual(expression.Value(exp.UnixMilli()))).
		And(expression.Name("last").LessThanEqual(expression.Value(at.UnixMilli())))
	if a.ClientID != "" {
		// A client new to the session is counted as it joins (joinClient): the write waits.
		cond = cond.And(expression.Contains(expression.Name("clients"), a.ClientID))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return nil, err
	}
	out, err := s.updateItem(ctx, "record activity", &dynamodb.UpdateItemInput{
		Key:              key(userPK(a.TenantID, a.UserID), sessionSK(a.SessionID)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueUpdatedOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return nil, err
	}
	var old sessionItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &old); err != nil {
		return nil, err
	}
	return &old, nil
}

// joinClient adds a.ClientID, which the live session does not have yet, to its clients, and
// counts the session under it in the user's ClientStarts (on the day it started: start, Unix
// ms), in one transaction. The condition that the session lacks the client makes the count
// happen once, whichever of concurrent heartbeats bringing it wins; the others find it joined.
// A session that has pulse.MaxSessionClients already is refused the client (ECONFLICT, limit),
// and a user's counters that hold maxClientStarts entries start again (restartClientCounts).
func (s *Store) joinClient(ctx context.Context, a Activity, start int64, now time.Time) error {
	const op = "record activity"
	day := startDay(time.UnixMilli(start))
	sess, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("clients"), expression.Value(&types.AttributeValueMemberSS{Value: []string{a.ClientID}}))).
		WithCondition(expression.Name("status").Equal(expression.Value(pulse.StatusActive)).
			And(expression.Name("exp").GreaterThan(expression.Value(now.UnixMilli()))).
			And(expression.Not(expression.Contains(expression.Name("clients"), a.ClientID))).
			And(expression.Or(expression.AttributeNotExists(expression.Name("clients")), // imported without one
				expression.Size(expression.Name("clients")).LessThan(expression.Value(pulse.MaxSessionClients))))).Build()
	if err != nil {
		return fail(op, err)
	}
	// What the user's counters are known to be: present, and full without this client's key.
	// informed: the last round was refused by the user's condition alone, whose item says what
	// the counters are, so the next one goes at once; a round that met another transaction
	// pauses first.
	counters, full, informed := true, false, false
	for round := 0; ; round++ {
		if round > 0 && !nextRound(ctx, round, !informed) {
			return fail(op, fmt.Errorf("the user kept changing: gave up after %d rounds", round))
		}
		var upd expression.UpdateBuilder
		var cond expression.ConditionBuilder
		switch {
		case full:
			upd, cond = restartClientCounts(expression.UpdateBuilder{}, day, a.ClientID, now)
		case counters:
			upd, cond = countClient(expression.UpdateBuilder{}, day, a.ClientID, s.maxClientStarts())
		default:
			upd = expression.Set(expression.Name(attrCStarts), expression.Value(map[string]int{clientStartKey(day, a.ClientID): 1}))
			cond = expression.AttributeExists(expression.Name(attrPK)).And(expression.AttributeNotExists(expression.Name(attrCStarts)))
		}
		user, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
		if err != nil {
			return fail(op, err)
		}
		err = s.transact(ctx, op,
			types.TransactWriteItem{Update: &types.Update{Key: key(userPK(a.TenantID, a.UserID), sessionSK(a.SessionID)),
				UpdateExpression: sess.Update(), ConditionExpression: sess.Condition(),
				ExpressionAttributeNames: sess.Names(), ExpressionAttributeValues: sess.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			types.TransactWriteItem{Update: &types.Update{Key: key(userPK(a.TenantID, a.UserID), userSK()),
				UpdateExpression: user.Update(), ConditionExpression: user.Condition(),
				ExpressionAttributeNames: user.Names(), ExpressionAttributeValues: user.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}})
		if code, old := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
			var cur sessionItem
			if old == nil {
				return pulse.NotFound(op, pulse.EntitySession, a.SessionID)
			}
			if err := attributevalue.UnmarshalMap(old, &cur); err != nil {
				return fail(op, err)
			}
			switch {
			case slices.Contains(cur.Clients, a.ClientID):
				return nil // another heartbeat brought it at once, and counted it
			case cur.Status == pulse.StatusActive && cur.Expires > now.UnixMilli():
				return clientsFull(a.SessionID) // live, without the client: the condition left is the bound
			}
			return pulse.Conflict(op, pulse.EntitySession, a.SessionID, pulse.ReasonEnded)
		} else if code, old := cancelledBy(err, 1); code == "ConditionalCheckFailed" {
			if old == nil {
				return fail(op, fmt.Errorf("session %s has no user item to count it in", a.SessionID))
			}
			var cur userItem
			if err := attributevalue.UnmarshalMap(old, &cur); err != nil {
				return fail(op, err)
			}
			counters = cur.ClientStarts != nil
			full = counters && s.clientCountsFull(cur.ClientStarts, day, a.ClientID, 0)
			informed = true
			continue
		} else if conflicted(err) {
			informed = false
			continue // another transaction on the user (a login, another client) at once
		}
		return err
	}
}

// maxClientStarts bounds the entries of a user's ClientStarts (one per day and client listed):
// client IDs are the caller's to choose, and the map lives in the user item that every login
// rewrites and every session list reads: four entries for each day listed (the retention), but
// at least 256 (about 37 KB of the longest IDs; with the default 30 days, a user seen with 8
// clients every day holds 248) and at most 1,024 (about 145 KB, well under DynamoDB's 400 KB).
func (s *Store) maxClientStarts() int {
	days := int(s.policy.Retention/(24*time.Hour)) + 1
	return min(max(4*days, 256), 1024)
}

// clientCountsFull reports whether counting a session under client on day would grow the
// user's ClientStarts cs past maxClientStarts, once the write that counts it has removed pruned
// of its entries (days past the horizon).
func (s *Store) clientCountsFull(cs map[string]int, day, client string, pruned int) bool {
	_, has := cs[clientStartKey(day, client)]
	return !has && len(cs)-pruned >= s.maxClientStarts()
}

// countClient adds to a write of the user item the count of one session under client on day in
// ClientStarts, which exists. room is how many entries the map may hold before the write (the
// bound, and those the same write removes): the condition refuses the write if racing counts
// filled it meanwhile, and the caller reads again.
func countClient(upd expression.UpdateBuilder, day, client string, room int) (expression.UpdateBuilder, expression.ConditionBuilder) {
	path := clientStartPath(day, client)
	return upd.Set(path, expression.Plus(expression.IfNotExists(path, expression.Value(0)), expression.Value(1))),
		expression.AttributeExists(expression.Name(attrCStarts)).And(expression.Or(expression.AttributeExists(path),
			expression.Size(expression.Name(attrCStarts)).LessThan(expression.Value(room))))
}

// restartClientCounts is countClient for counters that are full (clientCountsFull): ClientStarts
// starts again with this one count, and ClientsFrom says from when it counts every session. A
// list filtered by client counts the index's keys until the horizon has passed that day (see
// clientsCounted).
func restartClientCounts(upd expression.UpdateBuilder, day, client string, now time.Time) (expression.UpdateBuilder, expression.ConditionBuilder) {
	return upd.Set(expression.Name(attrCStarts), expression.Value(map[string]int{clientStartKey(day, client): 1})).
			Set(expression.Name(attrCFrom), expression.Value(now.UnixMilli())),
		expression.AttributeExists(expression.Name(attrCStarts))
}

// putDay records that user was active on day. Writing it twice is harmless.
func (s *Store) putDay(ctx context.Context, tenant, user, day string) error {
	item, err := s.dayItem(tenant, user, day)
	if err != nil {
		return fail("record day", err)
	}
	return s.putItem(ctx, "record day", &dynamodb.PutItemInput{Item: item})
}
