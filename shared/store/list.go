package store

import (
	"cmp"
	"context"
	"slices"
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
//
// Sorted by initiated_at (the default, either way), the page is read by key from the local
// index of its status: the index's keys up to the page, then the page's sessions. The total
// counts that index's keys: for live sessions bounded by the session cap, for ended or all
// sessions as many keys as the user has stored (about 0.015 RCU each). Sorted by session_id,
// expires_at or last_updated, the live sessions (bounded by the cap) are read and sorted; ended
// or all sessions are read in full (their cost grows with the user's stored history).
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
		return s.pageByStart(ctx, op, tenant, user, q, now)
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
	kept := all[:0]
	for _, ss := range all {
		if matches(ss, q, now) {
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

// pageByStart reads a page sorted by start from the status's local index: keys (and the
// projected client list) up to the end for the total, the page's sessions by key.
func (s *Store) pageByStart(ctx context.Context, op, tenant, user string, q SessionQuery, now time.Time) (*SessionPage, error) {
	b := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(userPK(tenant, user))))
	if q.ClientID != "" {
		b = b.WithFilter(expression.Contains(expression.Name("clients"), q.ClientID))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var pageKeys []map[string]types.AttributeValue
	total := 0
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(statusIndex[q.Status]), KeyConditionExpression: expr.KeyCondition(),
		FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(!q.Desc),
	}, func(items []map[string]types.AttributeValue) (bool, error) {
		for _, it := range items {
			if total >= q.Offset && len(pageKeys) < q.Limit {
				pageKeys = append(pageKeys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
			}
			total++
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	got, err := s.sessionsByKey(ctx, op, pageKeys)
	if err != nil {
		return nil, err
	}
	byID := map[string]*pulse.Session{}
	for _, ss := range got {
		byID[sessionSK(ss.ID)] = ss
	}
	page := &SessionPage{Total: total, Sessions: []*pulse.Session{}}
	for _, k := range pageKeys {
		sk, _ := k[attrSK].(*types.AttributeValueMemberS)
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
	var out []*pulse.Session
	err = s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
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
