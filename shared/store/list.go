package store

import (
	"cmp"
	"context"
	"math"
	"slices"
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

// SessionQuery asks for one page of a user's sessions.
type SessionQuery struct {
	Status   string // pulse.StatusActive, pulse.StatusEnded or "all"
	ClientID string // keep sessions that include this client; "" keeps all
	Sort     string // session_id, initiated_at, expires_at or last_updated
	Desc     bool
	Offset   int
	Limit    int
}

// SessionPage is one page of a user's sessions and how many the whole list holds.
type SessionPage struct {
	Sessions []*pulse.Session
	Total    int
}

// statusIndex is the local index that holds a user's sessions of a status, by start.
var statusIndex = map[string]string{pulse.StatusActive: indexLive, pulse.StatusEnded: indexEnded, "all": indexStarted}

// SessionsPage returns one page of a user's sessions; ENOTFOUND for an unknown user. Reads are
// eventually consistent (a session started a moment ago may be missing for that moment).
// Sessions are listed for the retention counted from the UTC day they started (Store.horizon).
//
// Sorted by initiated_at (either way), a page costs what it returns: live sessions are read
// from the Live index (bounded by the session cap); ended or all sessions find their first day
// from the user's start counters, read the index keys of that day from the page's start, then
// the page's sessions by key. The total comes from the counters (all), less the live keys
// (ended), or from the live keys (active); filtered by client_id, from the client's counters
// (userItem.ClientStarts) once they hold every listed session, else by counting the index's
// matching keys (about 0.02 RCU each). Sorted by last_updated or expires_at, ended or all
// sessions page by key too (pageByEnd), once the user's ends are all in the EndedLast or
// EndedExp index (frozenOrder.since); sorted by session_id, by the sessions' own keys or the
// ByID index (pageByID). Active sessions sorted by last_updated or expires_at are the LiveTimes
// index's entries (bounded by the cap), sorted, and then the page by key; the ended or all
// sessions of a user the EndedLast or EndedExp index does not yet hold whole are read in full
// (bounded by the retention).
func (s *Store) SessionsPage(ctx context.Context, tenant, user string, q SessionQuery) (*SessionPage, error) {
	const op = "list sessions"
	var u userItem
	if found, err := s.get(ctx, op, userPK(tenant, user), userSK(), false, &u); err != nil {
		return nil, err
	} else if !found || u.Erased != 0 {
		return nil, pulse.NotFound(op, pulse.EntityUser, user)
	}
	now := s.now()
	if q.Sort == "initiated_at" {
		keys, total, err := s.pageKeys(ctx, op, tenant, user, &u, q, now)
		if err != nil {
			return nil, err
		}
		return s.pageOf(ctx, op, keys, total, q, now)
	}
	if ord, ok := frozenOrders[q.Sort]; ok && q.Status == pulse.StatusActive {
		rows, err := s.liveBy(ctx, op, tenant, user, ord, q, s.horizon(now), now)
		if err != nil {
			return nil, err
		}
		sortRows(rows, q.Desc)
		total := len(rows)
		rows = rows[min(q.Offset, total):]
		keys := make([]indexKey, 0, min(q.Limit, len(rows)))
		for _, r := range rows[:min(q.Limit, len(rows))] {
			keys = append(keys, indexKey{key: r.key})
		}
		return s.pageOf(ctx, op, keys, total, q, now)
	}
	if ord, ok := frozenOrders[q.Sort]; ok && s.indexedSince(ord.since(&u), now) {
		return s.pageByEnd(ctx, op, tenant, user, &u, ord, q, now)
	}
	if q.Sort == "session_id" {
		return s.pageByID(ctx, op, tenant, user, &u, q, now)
	}
	all, err := s.allSessions(ctx, op, tenant, user)
	if err != nil {
		return nil, err
	}
	first := s.horizon(now)
	kept := all[:0]
	for _, ss := range all {
		if matches(ss, q, now) && startDay(ss.InitiatedAt) >= first {
			kept = append(kept, ss)
		}
	}
	slices.SortStableFunc(kept, func(a, b *pulse.Session) int {
		c := compareBy(q.Sort, a, b)
		if c == 0 {
			c = strings.Compare(a.ID, b.ID) // a total order: pages never overlap
		}
		if q.Desc {
			return -c
		}
		return c
	})
	from := min(q.Offset, len(kept))
	return &SessionPage{Sessions: kept[from:min(from+q.Limit, len(kept))], Total: len(kept)}, nil
}

func compareBy(key string, a, b *pulse.Session) int {
	switch key {
	case "session_id":
		return strings.Compare(a.ID, b.ID)
	case "expires_at":
		return a.ExpiresAt.Compare(b.ExpiresAt)
	case "last_updated":
		return a.LastActivity.Compare(b.LastActivity)
	}
	return cmp.Compare(a.InitiatedAt.UnixMilli(), b.InitiatedAt.UnixMilli())
}

// matches reports whether ss belongs in the list q asks for, as of now.
func matches(ss *pulse.Session, q SessionQuery, now time.Time) bool {
	if status, _, _ := ss.State(now); q.Status != "all" && status != q.Status {
		return false
	}
	return q.ClientID == "" || slices.Contains(ss.ClientIDs, q.ClientID)
}

// indexKey is one entry of a user's Live, Started or Ended index: the session's key, its start
// and the UTC day it started.
type indexKey struct {
	key   map[string]types.AttributeValue
	start int64 // Unix ms
	day   string
}

// pageKeys returns the keys of one page sorted by start, and the list's total.
func (s *Store) pageKeys(ctx context.Context, op, tenant, user string, u *userItem, q SessionQuery, now time.Time) ([]indexKey, int, error) {
	first := s.horizon(now)
	if q.ClientID != "" && q.Status != pulse.StatusActive && !s.clientsCounted(u, now) {
		// The client counters miss sessions still listed: count the matching keys (the filter
		// reads them all).
		return s.indexKeys(ctx, op, tenant, user, statusIndex[q.Status], q, first, "", q.Offset, q.Limit, true)
	}
	if q.Status == pulse.StatusActive {
		return s.indexKeys(ctx, op, tenant, user, indexLive, q, "", "", q.Offset, q.Limit, true)
	}
	perDay, err := s.startsPerDay(ctx, op, tenant, user, u, q, now, nil)
	if err != nil {
		return nil, 0, err
	}
	days := make([]string, 0, len(perDay))
	total := 0
	for day, n := range perDay {
		days = append(days, day)
		total += n
	}
	slices.Sort(days)
	if q.Desc {
		slices.Reverse(days)
	}
	// The page begins in the day where the counts before it pass the offset: read from that
	// day's edge, skipping the rest of the offset within it.
	skip, from := q.Offset, ""
	for _, day := range days {
		if skip < perDay[day] {
			from = day
			break
		}
		skip -= perDay[day]
	}
	if from == "" {
		return nil, total, nil
	}
	keys, _, err := s.indexKeys(ctx, op, tenant, user, statusIndex[q.Status], q, first, from, skip, q.Limit, false)
	return keys, total, err
}

// listTotal is how many sessions the list q asks for holds, sorted any way: the Live index's
// keys (active), or the user's start counters (ended, all; startsPerDay, given live), or the
// matching keys of the index of its status when filtered by a client the counters cannot tell yet.
func (s *Store) listTotal(ctx context.Context, op, tenant, user string, u *userItem, q SessionQuery, now time.Time, live []indexKey) (int, error) {
	if q.Status == pulse.StatusActive || q.ClientID != "" && !s.clientsCounted(u, now) {
		q.Offset, q.Limit = 0, 0
		_, total, err := s.pageKeys(ctx, op, tenant, user, u, q, now)
		return total, err
	}
	perDay, err := s.startsPerDay(ctx, op, tenant, user, u, q, now, live)
	total := 0
	for _, n := range perDay {
		total += n
	}
	return total, err
}

// startsPerDay is how many of the user's ended (q.Status ended) or all sessions started on each
// UTC day still listed, from the user's start counters (of q.ClientID's sessions, when given).
// For ended it subtracts live, the user's Live keys of q.ClientID (liveKeys), read here when nil.
func (s *Store) startsPerDay(ctx context.Context, op, tenant, user string, u *userItem, q SessionQuery, now time.Time, live []indexKey) (map[string]int, error) {
	first := s.horizon(now)
	perDay := map[string]int{}
	for day, n := range u.Starts {
		if day >= first && q.ClientID == "" {
			perDay[day] = n
		}
	}
	for k, n := range u.ClientStarts {
		if day, client, _ := strings.Cut(k, "#"); day >= first && q.ClientID != "" && client == q.ClientID {
			perDay[day] = n
		}
	}
	if q.Status == pulse.StatusEnded {
		// Ended = started less what the Live index still holds (a live session leaves it for
		// the Ended index when it ends, the cleanup ending the expired ones).
		if live == nil {
			var err error
			if live, err = s.liveKeys(ctx, op, tenant, user, q); err != nil {
				return nil, err
			}
		}
		for _, k := range live {
			if _, ok := perDay[k.day]; ok {
				perDay[k.day] = max(perDay[k.day]-1, 0)
			}
		}
	}
	return perDay, nil
}

// liveKeys is the keys of the user's live sessions of q.ClientID (all when ""), never nil.
func (s *Store) liveKeys(ctx context.Context, op, tenant, user string, q SessionQuery) ([]indexKey, error) {
	keys, _, err := s.indexKeys(ctx, op, tenant, user, indexLive, SessionQuery{ClientID: q.ClientID}, "", "", 0, math.MaxInt, true)
	if keys == nil {
		keys = []indexKey{}
	}
	return keys, err
}

// indexKeys reads a user's index by start in q's direction, from the edge of day from (all of
// the list when ""), never before the horizon day first (no bound when ""). It keeps limit
// keys after skipping skip; with count it reads on to the end and returns how many it saw.
func (s *Store) indexKeys(ctx context.Context, op, tenant, user, index string, q SessionQuery, first, from string, skip, limit int, count bool) ([]indexKey, int, error) {
	rangeKey := map[string]string{indexLive: attrLiveKey, indexStarted: attrInitKey, indexEnded: attrEndedKey}[index]
	kc := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))
	lo, hi := "", ""
	if first != "" {
		lo = dayStartKey(first)
	}
	if from != "" && q.Desc {
		hi = dayStartKey(nextDay(from))
	} else if from != "" {
		lo = dayStartKey(from)
	}
	switch {
	case lo != "" && hi != "":
		kc = kc.And(expression.Key(rangeKey).Between(expression.Value(lo), expression.Value(hi)))
	case lo != "":
		kc = kc.And(expression.Key(rangeKey).GreaterThanEqual(expression.Value(lo)))
	case hi != "":
		kc = kc.And(expression.Key(rangeKey).LessThan(expression.Value(hi)))
	}
	b := expression.NewBuilder().WithKeyCondition(kc)
	if q.ClientID != "" {
		b = b.WithFilter(expression.Contains(expression.Name("clients"), q.ClientID))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, 0, fail(op, err)
	}
	in := &dynamodb.QueryInput{IndexName: aws.String(index), KeyConditionExpression: expr.KeyCondition(),
		FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(!q.Desc)}
	var keys []indexKey
	seen := 0
	// Unless counting, every page asks only for the keys still missing (without a filter the
	// first skip+limit are the page's; with one, a page of ten never reads a megabyte).
	var left func() int
	if !count {
		left = func() int { return skip + limit - seen }
	}
	err = s.queryUpTo(ctx, op, in, left, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, it := range items {
			if seen >= skip && len(keys) < limit {
				k := indexKey{key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}}
				if v, ok := it[rangeKey].(*types.AttributeValueMemberS); ok {
					k.start = msOfStartKey(v.Value)
					k.day = startDay(time.UnixMilli(k.start))
				}
				keys = append(keys, k)
			}
			seen++
		}
		return count || len(keys) < limit, nil
	})
	return keys, seen, err
}

// pageOf reads the page's sessions by key, in the keys' order.
func (s *Store) pageOf(ctx context.Context, op string, keys []indexKey, total int, q SessionQuery, now time.Time) (*SessionPage, error) {
	raw := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		raw[i] = k.key
	}
	got, err := s.sessionsByKey(ctx, op, raw, nil)
	if err != nil {
		return nil, err
	}
	byID := map[string]*pulse.Session{}
	for _, ss := range got {
		byID[sessionSK(ss.ID)] = ss
	}
	page := &SessionPage{Total: total, Sessions: []*pulse.Session{}}
	for _, k := range keys {
		sk, _ := k.key[attrSK].(*types.AttributeValueMemberS)
		// The index lags the table a moment, and an expired session stays in Live until the
		// cleanup records its end: the session itself decides.
		if ss := byID[sk.Value]; ss != nil && matches(ss, q, now) {
			page.Sessions = append(page.Sessions, ss)
		}
	}
	return page, nil
}

// allSessions returns every session the user has stored, ended ones included: one Query over
// the sessions of the user's partition.
func (s *Store) allSessions(ctx context.Context, op, tenant, user string) ([]*pulse.Session, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user))).
		And(expression.Key(attrSK).BeginsWith(sessionPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	return s.querySessions(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
}

// indexedFromStart is userItem.Indexed for a user whose every session was written since the
// EndedLast index exists (created by a login, PutUser or Import).
const indexedFromStart = 1

// indexMargin is how long after a login first sees a user without userItem.Indexed older code
// may still be ending the user's sessions without entering them in EndedLast: a deploy replaces
// every function well within it.
const indexMargin = 24 * time.Hour

// markIndexed adds to a write of user u (nil: a user being created; found: whether it exists)
// when its ends started entering the EndedLast and EndedExp indexes and its sessions being
// counted by client: from its start for a new user, else a margin past now for one that older
// code wrote (if no other write has marked it meanwhile).
func markIndexed(upd expression.UpdateBuilder, found bool, u *userItem, now time.Time) expression.UpdateBuilder {
	if !found {
		return upd.Set(expression.Name(attrIndexed), expression.Value(indexedFromStart)).
			Set(expression.Name(attrExpIdx), expression.Value(indexedFromStart))
	}
	mark := func(attr string, since int64) {
		if since == 0 {
			upd = upd.Set(expression.Name(attr), expression.IfNotExists(expression.Name(attr), expression.Value(now.Add(indexMargin).UnixMilli())))
		}
	}
	mark(attrIndexed, u.Indexed)
	mark(attrExpIdx, u.ExpIndexed)
	return upd
}

// lastIndexed reports whether the EndedLast index holds every ended session of the user's list,
// and ClientStarts counts every listed session under each of its clients: a session that ended
// or started before u.Indexed (or gained a client before it) started before it, and has left
// the list once the horizon has passed the day of u.Indexed.
func (s *Store) lastIndexed(u *userItem, now time.Time) bool {
	return s.indexedSince(u.Indexed, now)
}

// clientsCounted reports whether ClientStarts counts every listed session under each of its
// clients: lastIndexed, and the horizon has passed the day the map last started again, if it
// did (restartClientCounts).
func (s *Store) clientsCounted(u *userItem, now time.Time) bool {
	return s.lastIndexed(u, now) && (u.ClientsFrom == 0 || s.indexedSince(u.ClientsFrom, now))
}

// indexedSince reports whether the horizon has passed the day of since (userItem.Indexed or
// ExpIndexed): every session listed started after it.
func (s *Store) indexedSince(since int64, now time.Time) bool {
	return since != 0 && startDay(time.UnixMilli(since)) < s.horizon(now)
}

// frozenOrder is a sort whose key an end freezes: every end copies it into attr, the range key
// of index (hash: the user's partition), so that the ended sessions page by it.
type frozenOrder struct {
	index, attr string
	live        string                  // the attribute of a live session's entry in LiveTimes that holds the key
	since       func(u *userItem) int64 // from when the index holds every end of u
}

// frozenOrders are the sorts pageByEnd serves, and liveBy for the live sessions, whose keys
// move with their heartbeats (the LiveTimes index holds them as they are stored).
var frozenOrders = map[string]frozenOrder{
	"last_updated": {indexEndLast, attrEndLast, attrLast, func(u *userItem) int64 { return u.Indexed }},
	"expires_at":   {indexEndExp, attrEndExp, attrExp, func(u *userItem) int64 { return u.ExpIndexed }},
}

// endRow is one session of a list sorted by a frozenOrder: its key's value, its ID, and its
// table key, read once it is on the page.
type endRow struct {
	at  int64
	id  string
	key map[string]types.AttributeValue
}

// pageByEnd returns one page of the user's ended or all sessions sorted by last activity or
// expiry (ord). An end freezes both and enters the session in ord's index, so the ended ones
// are the index's first offset+limit entries in the page's order (keys, the start and the
// client list: about 150 bytes each with UUIDs); the live ones (status all, liveBy's rows) are
// placed among them by mergeLive. Newest first they are read first, and when offset+limit of
// them already fill the page's place, only ended entries that could still come before the last
// of them are read: at the cap, page 1 reads no ended entry at all. Oldest first the ended ones
// are read first, and the live ones only when the earliest live start says one could be on the
// page. Then the page's sessions are read by key. The total is listTotal's.
func (s *Store) pageByEnd(ctx context.Context, op, tenant, user string, u *userItem, ord frozenOrder, q SessionQuery, now time.Time) (*SessionPage, error) {
	total, err := s.listTotal(ctx, op, tenant, user, u, q, now, nil)
	if err != nil || q.Offset >= total {
		return &SessionPage{Total: total, Sessions: []*pulse.Session{}}, err // past the end: nothing to read
	}
	first := s.horizon(now)
	n := q.Offset + q.Limit
	var rows, live []endRow
	switch {
	case q.Status != "all":
		rows, err = s.endedBy(ctx, op, tenant, user, ord, q, first, n, 0)
	case q.Desc:
		if live, err = s.liveBy(ctx, op, tenant, user, ord, q, first, now); err != nil {
			return nil, err
		}
		var bound int64 // no ended session beyond it, in the page's order, can be among the first n
		if sortRows(live, q.Desc); len(live) >= n {
			bound = live[n-1].at
		}
		rows, err = s.endedBy(ctx, op, tenant, user, ord, q, first, n, bound)
	default:
		// Oldest first the live sessions mostly come after the ended ones: a live session's
		// last activity and expiry are never before its start, so when the earliest live
		// start is past the n-th ended row, none of them can be on the page and LiveTimes is
		// not read.
		if rows, err = s.endedBy(ctx, op, tenant, user, ord, q, first, n, 0); err != nil {
			return nil, err
		}
		sortRows(rows, q.Desc)
		after := false // every live session comes after the page
		if len(rows) >= n {
			earliest, err := s.earliestLive(ctx, op, tenant, user, first)
			if err != nil {
				return nil, err
			}
			after = earliest > rows[n-1].at
		}
		if !after {
			live, err = s.liveBy(ctx, op, tenant, user, ord, q, first, now)
		}
	}
	if err != nil {
		return nil, err
	}
	rows = mergeLive(rows, live, q.Desc)
	rows = rows[min(q.Offset, len(rows)):]
	rows = rows[:min(q.Limit, len(rows))]
	var keys []map[string]types.AttributeValue
	for _, r := range rows {
		keys = append(keys, r.key)
	}
	got, err := s.sessionsByKey(ctx, op, keys, nil)
	if err != nil {
		return nil, err
	}
	byID := map[string]*pulse.Session{}
	for _, ss := range got {
		byID[ss.ID] = ss
	}
	page := &SessionPage{Total: total, Sessions: []*pulse.Session{}}
	for _, r := range rows {
		if ss := byID[r.id]; ss != nil { // gone: deleted since the index was read
			page.Sessions = append(page.Sessions, ss)
		}
	}
	return page, nil
}

// mergeLive places the user's live sessions (liveBy's rows) among the ended rows of a page
// sorted by a frozenOrder (status all). A session that has just ended can be in both indexes for
// a moment: its ended entry stands.
func mergeLive(rows, live []endRow, desc bool) []endRow {
	ended := make(map[string]bool, len(rows))
	for _, r := range rows {
		ended[r.id] = true
	}
	for _, r := range live {
		if !ended[r.id] {
			rows = append(rows, r)
		}
	}
	sortRows(rows, desc)
	return rows
}

// liveBy returns the user's live sessions that q's list holds as rows of ord, to be read by key:
// the LiveTimes index's entries (keys, start, last activity and expiry: about 170 bytes each with
// UUIDs), one read bounded by the session cap, keeping those started on the horizon day first or
// later, and for status active not expired at now (one the cleanup has yet to end stays in a
// list of all, as ended). Filtered by client, only those among the Live index's keys of
// q.ClientID (liveKeys, about 0.02 RCU each): LiveTimes leaves the client list out, which would
// make each rewrite cost what the list weighs. A heartbeat rewrites its session's entry, so the
// order is the stored one; the index lags the table a moment, and the page read by key then
// shows the session as it is.
func (s *Store) liveBy(ctx context.Context, op, tenant, user string, ord frozenOrder, q SessionQuery, first string, now time.Time) ([]endRow, error) {
	var ofClient map[string]bool
	if q.ClientID != "" {
		keys, err := s.liveKeys(ctx, op, tenant, user, q)
		if err != nil {
			return nil, err
		}
		ofClient = make(map[string]bool, len(keys))
		for _, k := range keys {
			ofClient[keyID(k.key)] = true
		}
	}
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var rows []endRow
	// What the index holds, never a ProjectionExpression (see liveIDs).
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexLiveAt), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), Select: types.SelectAllProjectedAttributes}, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, it := range items {
			if q.Status == pulse.StatusActive && numAttr(it, attrExp) <= now.UnixMilli() || startDay(time.UnixMilli(numAttr(it, attrInit))) < first {
				continue // expired (the cleanup has yet to record its end), or no longer listed
			}
			r := endRow{key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}, at: numAttr(it, ord.live)}
			if r.id = keyID(r.key); ofClient == nil || ofClient[r.id] {
				rows = append(rows, r)
			}
		}
		return true, nil
	})
	return rows, err
}

// earliestLive returns the start (Unix ms) of the user's earliest live session started on the
// horizon day first or later, math.MaxInt64 when there is none: the first of the Live index's
// keys, one entry (0.5 RCU), whatever the user holds.
func (s *Store) earliestLive(ctx context.Context, op, tenant, user, first string) (int64, error) {
	keys, _, err := s.indexKeys(ctx, op, tenant, user, indexLive, SessionQuery{}, first, "", 0, 1, false)
	if err != nil || len(keys) == 0 {
		return math.MaxInt64, err
	}
	return keys[0].start, nil
}

// sortRows orders rows as the full read orders sessions (compareBy, then the ID), so that
// either way a list pages the same.
func sortRows(rows []endRow, desc bool) {
	slices.SortFunc(rows, func(a, b endRow) int {
		c := cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.id, b.id))
		if desc {
			return -c
		}
		return c
	})
}

// endedBy returns the first n of the user's ended sessions in q's order of ord, from ord's
// index, leaving out those that started before the horizon day first, and those past bound (when
// not 0: below it newest first, above it oldest first), which the caller knows cannot be among
// the first n. Every other entry with the n-th's key comes too: the index orders such ties as it
// likes, the caller breaks them by ID. One more entry may come, the next in order.
func (s *Store) endedBy(ctx context.Context, op, tenant, user string, ord frozenOrder, q SessionQuery, first string, n int, bound int64) ([]endRow, error) {
	if n <= 0 {
		return nil, nil
	}
	day, _ := time.Parse(time.DateOnly, first)
	pk := expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user)))
	seen := map[string]bool{}
	var rows []endRow
	read := func(kc expression.KeyConditionBuilder, stop bool) error {
		b := expression.NewBuilder().WithKeyCondition(kc)
		if q.ClientID != "" {
			b = b.WithFilter(expression.Contains(expression.Name("clients"), q.ClientID))
		}
		expr, err := b.Build()
		if err != nil {
			return fail(op, err)
		}
		in := &dynamodb.QueryInput{IndexName: aws.String(ord.index), KeyConditionExpression: expr.KeyCondition(),
			FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ScanIndexForward: aws.Bool(!q.Desc)}
		// Without a filter the first n entries are the ones, bar the horizon's; with one, pages of
		// what is still missing are read until n match, never a megabyte for a page of ten. One
		// more than n: when its key differs from the n-th's, no tie of the n-th is left unread.
		var left func() int
		if stop {
			left = func() int { return n + 1 - len(rows) }
		}
		return s.queryUpTo(ctx, op, in, left, func(items []map[string]types.AttributeValue) (bool, error) {
			for _, it := range items {
				r := endRow{key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}, at: numAttr(it, ord.attr)}
				r.id = keyID(r.key)
				if startDay(time.UnixMilli(numAttr(it, attrInit))) < first || seen[r.id] {
					continue // started before the horizon: no longer listed, whatever its TTL says
				}
				seen[r.id] = true
				rows = append(rows, r)
			}
			return !stop || len(rows) <= n, nil
		})
	}
	// A listed session started on the horizon day or later, and was last active (and expires)
	// after it started.
	kc := pk.And(expression.Key(ord.attr).GreaterThanEqual(expression.Value(day.UnixMilli())))
	switch {
	case bound != 0 && q.Desc:
		kc = pk.And(expression.Key(ord.attr).GreaterThanEqual(expression.Value(max(day.UnixMilli(), bound))))
	case bound != 0 && bound < day.UnixMilli():
		return nil, nil
	case bound != 0:
		kc = pk.And(expression.Key(ord.attr).Between(expression.Value(day.UnixMilli()), expression.Value(bound)))
	}
	if err := read(kc, true); err != nil {
		return nil, err
	}
	if len(rows) <= n || rows[n].at != rows[n-1].at {
		return rows, nil // every entry with the n-th's key is among them (an index keeps ties together)
	}
	if err := read(pk.And(expression.Key(ord.attr).Equal(expression.Value(rows[n-1].at))), false); err != nil {
		return nil, err
	}
	return rows, nil
}

// pageByID returns one page of the user's sessions sorted by session ID. The live ones (status
// active) are the Live index's keys, whose sort keys hold the IDs: sorted, the page is read by
// key. Ended or all sessions, on the first pages (wholeReadPages), are the user's sessions read
// whole in the order of their own keys (pageByOwnKey); deeper, the ByID index's first
// offset+limit entries in the page's direction (keys, the start and the client list: about 150
// bytes each with UUIDs), less the live ones for ended, then the page's sessions by key. A deep
// page costs its depth in entries, never the user's history. The total is listTotal's.
func (s *Store) pageByID(ctx context.Context, op, tenant, user string, u *userItem, q SessionQuery, now time.Time) (*SessionPage, error) {
	if q.Status == pulse.StatusActive {
		keys, total, err := s.indexKeys(ctx, op, tenant, user, indexLive, q, "", "", 0, math.MaxInt, true)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(keys, func(a, b indexKey) int {
			c := strings.Compare(keyID(a.key), keyID(b.key))
			if q.Desc {
				return -c
			}
			return c
		})
		keys = keys[min(q.Offset, len(keys)):]
		return s.pageOf(ctx, op, keys[:min(q.Limit, len(keys))], total, q, now)
	}
	// Ended = in ByID and no longer in Live, as the total counts them: one read of the Live keys
	// serves both.
	var liveKeys []indexKey
	var err error
	if q.Status == pulse.StatusEnded {
		if liveKeys, err = s.liveKeys(ctx, op, tenant, user, q); err != nil {
			return nil, err
		}
	}
	total, err := s.listTotal(ctx, op, tenant, user, u, q, now, liveKeys)
	if err != nil || q.Offset >= total {
		return &SessionPage{Total: total, Sessions: []*pulse.Session{}}, err // past the end: nothing to read
	}
	if q.Offset+q.Limit <= wholeReadPages*q.Limit {
		return s.pageByOwnKey(ctx, op, tenant, user, total, q, now)
	}
	live := map[string]bool{}
	for _, k := range liveKeys {
		live[keyID(k.key)] = true
	}
	first, n := s.horizon(now), q.Offset+q.Limit
	b := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user))))
	if q.ClientID != "" {
		b = b.WithFilter(expression.Contains(expression.Name("clients"), q.ClientID))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var keys []indexKey
	err = s.queryUpTo(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexByID), KeyConditionExpression: expr.KeyCondition(),
		FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(!q.Desc)}, func() int { return n - len(keys) },
		func(items []map[string]types.AttributeValue) (bool, error) {
			for _, it := range items {
				k := indexKey{key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}}
				if startDay(time.UnixMilli(numAttr(it, attrInit))) >= first && !live[keyID(k.key)] {
					keys = append(keys, k)
				}
			}
			return len(keys) < n, nil
		})
	if err != nil {
		return nil, err
	}
	keys = keys[min(q.Offset, len(keys)):]
	return s.pageOf(ctx, op, keys[:min(q.Limit, len(keys))], total, q, now)
}

// wholeReadPages is how deep, in pages, pageByID reads the sessions whole in the order of their
// own keys rather than ByID's entries and then the page's sessions by key: a session is about
// 850 bytes with UUIDs, its ByID entry about 150, and a read by key is charged at least 4 KB
// (0.5 RCU), so for a page of ten the first offset+limit sessions whole cost less up to about
// page 6 (3 RCU for page 1, where ByID and the keys cost 6.5).
const wholeReadPages = 5

// pageByOwnKey returns the page of pageByID by reading the user's sessions whole in the order of
// their keys (which is the ID's) up to the page's end. A session still in the Live index (its
// live_key is set) is live for status ended, as in ByID's pages and the total: the same list
// whichever way a page is read.
func (s *Store) pageByOwnKey(ctx context.Context, op, tenant, user string, total int, q SessionQuery, now time.Time) (*SessionPage, error) {
	first, n := s.horizon(now), q.Offset+q.Limit
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user))).
		And(expression.Key(attrSK).BeginsWith(sessionPrefix))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var kept []*pulse.Session
	err = s.queryUpTo(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ScanIndexForward: aws.Bool(!q.Desc)}, func() int { return n - len(kept) },
		func(items []map[string]types.AttributeValue) (bool, error) {
			for _, raw := range items {
				var it sessionItem
				if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
					return false, err
				}
				ss := it.session()
				if startDay(ss.InitiatedAt) >= first && (q.Status != pulse.StatusEnded || it.LiveKey == "") &&
					(q.ClientID == "" || slices.Contains(ss.ClientIDs, q.ClientID)) {
					kept = append(kept, ss)
				}
			}
			return len(kept) < n, nil
		})
	if err != nil {
		return nil, err
	}
	kept = kept[min(q.Offset, len(kept)):]
	return &SessionPage{Sessions: kept[:min(q.Limit, len(kept))], Total: total}, nil
}

// numAttr is a number attribute of an index entry (a start, an end's key), 0 when missing: a
// start of 1970, before any horizon.
func numAttr(it map[string]types.AttributeValue, name string) int64 {
	v, _ := it[name].(*types.AttributeValueMemberN)
	if v == nil {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

// keyID is the session ID of a session's table key.
func keyID(key map[string]types.AttributeValue) string {
	sk, _ := key[attrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return ""
	}
	return strings.TrimPrefix(sk.Value, sessionPrefix)
}
