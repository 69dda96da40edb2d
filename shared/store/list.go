package store

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
// (ended), or from the live keys (active). Filtered by client_id, the total counts the index's
// matching keys (about 0.02 RCU each). Sorted by session_id, expires_at or last_updated, live
// sessions are read and sorted (bounded by the cap), ended or all sessions in full (bounded
// by the retention).
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
	var all []*pulse.Session
	var err error
	if q.Status == pulse.StatusActive {
		all, err = s.liveSessions(ctx, op, tenant, user, false)
	} else {
		all, err = s.allSessions(ctx, op, tenant, user)
	}
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

// indexKey is one entry of a user's Live, Started or Ended index: the session's key and the
// UTC day it started.
type indexKey struct {
	key map[string]types.AttributeValue
	day string
}

// pageKeys returns the keys of one page sorted by start, and the list's total.
func (s *Store) pageKeys(ctx context.Context, op, tenant, user string, u *userItem, q SessionQuery, now time.Time) ([]indexKey, int, error) {
	first := s.horizon(now)
	if q.ClientID != "" {
		// The counters do not know clients: count the matching keys (the filter reads them all).
		return s.indexKeys(ctx, op, tenant, user, statusIndex[q.Status], q, first, "", q.Offset, q.Limit, true)
	}
	if q.Status == pulse.StatusActive {
		return s.indexKeys(ctx, op, tenant, user, indexLive, q, "", "", q.Offset, q.Limit, true)
	}
	perDay := map[string]int{}
	for day, n := range u.Starts {
		if day >= first {
			perDay[day] = n
		}
	}
	if q.Status == pulse.StatusEnded {
		// Ended = started less what the Live index still holds (a live session leaves it for
		// the Ended index when it ends, the cleanup ending the expired ones).
		live, _, err := s.indexKeys(ctx, op, tenant, user, indexLive, SessionQuery{}, "", "", 0, math.MaxInt, true)
		if err != nil {
			return nil, 0, err
		}
		for _, k := range live {
			if _, ok := perDay[k.day]; ok {
				perDay[k.day] = max(perDay[k.day]-1, 0)
			}
		}
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
	if !count && q.ClientID == "" {
		in.Limit = aws.Int32(int32(skip + limit)) // no filter: the first skip+limit keys are the page's
	}
	var keys []indexKey
	seen := 0
	err = s.query(ctx, op, in, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, it := range items {
			if seen >= skip && len(keys) < limit {
				k := indexKey{key: map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]}}
				if v, ok := it[rangeKey].(*types.AttributeValueMemberS); ok {
					k.day = dayOfStartKey(v.Value)
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
	got, err := s.sessionsByKey(ctx, op, raw)
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
