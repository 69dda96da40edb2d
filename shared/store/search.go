package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"golang.org/x/sync/errgroup"
)

// SessionFilter is what a search of the tenant's active sessions matches; a zero field
// matches everything. UserID, UserPrefix and SessionID are decided from the Active index's
// keys alone; the others need the session, read by key.
type SessionFilter struct {
	UserID     string
	UserPrefix string
	SessionID  string
	IP         netip.Prefix // an address is a /32 (or /128) prefix
	Country    string       // ISO code or name, any case
	Browser    string       // any case, as "Firefox"
	OS         string       // any case, as "Windows"
	ClientID   string
	NewDevice  *bool
	// StartedAfter keeps sessions that started at or after it (decided from the index's range
	// key, the session's start).
	StartedAfter time.Time
}

// Zero reports whether f names no filter at all: it matches every active session.
func (f SessionFilter) Zero() bool { return f == SessionFilter{} }

// byKey reports whether the index entry of user's session, started at start (Unix ms), can
// match.
func (f SessionFilter) byKey(user, session string, start int64) bool {
	return (f.UserID == "" || user == f.UserID) && strings.HasPrefix(user, f.UserPrefix) &&
		(f.SessionID == "" || session == f.SessionID) && (f.StartedAfter.IsZero() || start >= f.StartedAfter.UnixMilli())
}

// matches reports whether the session matches every field.
func (f SessionFilter) matches(ss *pulse.Session) bool {
	if !f.byKey(ss.UserID, ss.ID, ss.InitiatedAt.UnixMilli()) {
		return false
	}
	if f.IP.IsValid() {
		a, err := netip.ParseAddr(ss.IPAddress)
		if err != nil || !f.IP.Contains(a.Unmap()) {
			return false
		}
	}
	if f.Country != "" && !strings.EqualFold(ss.Location.CountryCode, f.Country) && !strings.EqualFold(ss.Location.Country, f.Country) {
		return false
	}
	if f.Browser != "" && !strings.EqualFold(ss.Device.Browser, f.Browser) {
		return false
	}
	if f.OS != "" && !strings.EqualFold(ss.Device.OS, f.OS) {
		return false
	}
	if f.ClientID != "" && !slices.Contains(ss.ClientIDs, f.ClientID) {
		return false
	}
	return f.NewDevice == nil || ss.NewDevice == *f.NewDevice
}

// What one search request may spend, whatever the tenant holds: it examines at most
// SearchExamined entries of the Active index (keys only, about 0.03 RCU each on AWS's rules)
// and reads at most SearchReads sessions by key (0.5 RCU each, eventually consistent), so a
// request costs at most about 130 RCU. A search that has not gone through the active window
// within that answers what it found with a cursor to go on from.
const (
	SearchExamined = 1000
	SearchReads    = 200
)

// SearchPage is one answer of a search.
type SearchPage struct {
	Sessions []*pulse.Session
	// Next continues the search where this answer stopped; empty once the whole active window
	// has been searched.
	Next string
	// Examined is how many index entries this answer examined.
	Examined int
}

// searchCursor is where a search stopped: the last index entry it consumed, in the partition
// (bucket, shard) of the Active index. The tenant is never in it (the caller's is used).
type searchCursor struct {
	Bucket  int64  `json:"b"`
	Shard   int    `json:"s"`
	Start   int64  `json:"a"`
	User    string `json:"u"`
	Session string `json:"i"`
}

// errBadCursor is returned for a cursor that no search gave (a surface words it).
var errBadCursor = &pulse.Error{Code: pulse.EINVALID, Op: "search sessions", Reason: pulse.ReasonCursor, ID: "cursor"}

func (c searchCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Store) decodeCursor(text string) (*searchCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(raw) > 2048 {
		return nil, errBadCursor
	}
	var c searchCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Bucket%int64(activeBucket/time.Second) != 0 ||
		c.Shard < 0 || c.Shard >= s.shards || pulse.ValidID(c.User) != nil || pulse.ValidID(c.Session) != nil {
		return nil, errBadCursor
	}
	return &c, nil
}

// SearchActive returns up to limit of the tenant's active sessions that match f, from where
// cursor (a SearchPage.Next, or "") stopped. It walks the Active index partitions of the
// active window from the oldest bucket to the newest: a session that moves bucket while a
// client pages moves ahead of the search, so it may be answered twice (the client drops the
// repeat by session ID), never skipped. Its cost is bounded by SearchExamined and SearchReads,
// not by the tenant's size.
func (s *Store) SearchActive(ctx context.Context, tenant string, f SessionFilter, limit int, cursor string) (*SearchPage, error) {
	const op = "search sessions"
	var from *searchCursor
	if cursor != "" {
		c, err := s.decodeCursor(cursor)
		if err != nil {
			return nil, err
		}
		from = c
	}
	now := s.now()
	since := ActiveSince(now, s.policy.ActiveWindow)
	born := now.Add(-s.policy.MaxLifetime).UnixMilli()
	page := &SearchPage{Sessions: []*pulse.Session{}}
	reads := 0
	seen := map[string]bool{}
	for b := since; !b.After(now); b = b.Add(activeBucket) {
		for shard := range s.shards {
			var resume *searchCursor
			if from != nil {
				if b.Unix() < from.Bucket || b.Unix() == from.Bucket && shard < from.Shard {
					continue // searched before
				}
				if b.Unix() == from.Bucket && shard == from.Shard {
					resume = from
				}
			}
			last, done, err := s.searchPartition(ctx, op, tenant, b, shard, resume, f, limit, born, now, since, page, &reads, seen)
			if err != nil {
				return nil, err
			}
			if !done {
				page.Next = last.encode()
				return page, nil
			}
		}
	}
	return page, nil
}

// searchPartition searches one partition of the Active index from resume (or its start). It
// reports done when the partition was searched to its end; otherwise the search stops at last
// (the page is full, or the request's budget is spent).
func (s *Store) searchPartition(ctx context.Context, op, tenant string, bucket time.Time, shard int, resume *searchCursor,
	f SessionFilter, limit int, born int64, now, since time.Time, page *SearchPage, reads *int, seen map[string]bool) (searchCursor, bool, error) {
	pk := activeIndexPK(tenant, bucket, shard)
	last := searchCursor{Bucket: bucket.Unix(), Shard: shard}
	if resume != nil {
		last = *resume
	}
	in, err := activeQuery(op, pk)
	if err != nil {
		return last, false, err
	}
	in.Limit = aws.Int32(int32(min(100, SearchExamined-page.Examined)))
	if resume != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			attrActivePK: &types.AttributeValueMemberS{Value: pk},
			attrActiveSK: &types.AttributeValueMemberN{Value: strconv.FormatInt(resume.Start, 10)},
			attrPK:       &types.AttributeValueMemberS{Value: userPK(tenant, resume.User)},
			attrSK:       &types.AttributeValueMemberS{Value: sessionSK(resume.Session)},
		}
	}
	done := true
	err = s.query(ctx, op, in, func(items []map[string]types.AttributeValue) (bool, error) {
		// Consume entries in order while the budgets allow; the candidates are read at once.
		type entry struct {
			pos  searchCursor
			key  map[string]types.AttributeValue
			cand bool
		}
		var entries []entry
		var keys []map[string]types.AttributeValue
		for _, it := range items {
			if page.Examined+len(entries) == SearchExamined {
				break // the examination budget is spent (a page can hold more than is left)
			}
			ae := activeEntryOf(it)
			e := entry{pos: searchCursor{Bucket: bucket.Unix(), Shard: shard, Start: ae.start}, key: ae.key}
			user, session := ownerOf(tenant, it)
			e.pos.User, e.pos.Session = user, session
			e.cand = e.pos.Start > born && user != "" && f.byKey(user, session, e.pos.Start) && !seen[user+"|"+session]
			if e.cand {
				if *reads+len(keys) == SearchReads {
					break // the read budget is spent: stop before this entry
				}
				seen[user+"|"+session] = true
				keys = append(keys, e.key)
			}
			entries = append(entries, e)
		}
		got, err := s.sessionsByKey(ctx, op, keys)
		if err != nil {
			return false, err
		}
		*reads += len(keys)
		read := map[string]*pulse.Session{}
		for _, ss := range got {
			read[ss.UserID+"|"+ss.ID] = ss
		}
		for _, e := range entries {
			page.Examined++
			last = e.pos
			if ss := read[e.pos.User+"|"+e.pos.Session]; e.cand && ss != nil && active(ss, now, since) && f.matches(ss) {
				page.Sessions = append(page.Sessions, ss)
				if len(page.Sessions) == limit {
					done = false
					return false, nil
				}
			}
		}
		if len(entries) < len(items) || page.Examined >= SearchExamined || *reads >= SearchReads {
			done = false
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return last, false, err
	}
	return last, done, nil
}

// ownerOf reads the user and session IDs from an index entry's table keys.
func ownerOf(tenant string, it map[string]types.AttributeValue) (user, session string) {
	pk, _ := it[attrPK].(*types.AttributeValueMemberS)
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "", ""
	}
	user, ok := strings.CutPrefix(pk.Value, userPK(tenant, ""))
	if !ok {
		return "", ""
	}
	session, _ = strings.CutPrefix(sk.Value, sessionPrefix)
	return user, session
}

// RevokeFound revokes sessions a search found, writeFanOut at a time, one conditional
// UpdateItem each (as RevokeSession: a session that ended meanwhile is left as it ended). It
// returns how many revokes were done; on an error (the function's deadline, a throttle) some
// may be done and others not, and the same search repeated finds only those still live.
func (s *Store) RevokeFound(ctx context.Context, sessions []*pulse.Session) (int, error) {
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writeFanOut)
	for _, ss := range sessions {
		g.Go(func() error {
			err := s.end(gctx, "revoke found sessions", ss.TenantID, ss.UserID, ss.ID, pulse.EndRevoked)
			if pulse.ErrorCode(err) == pulse.ENOTFOUND {
				return nil // erased since the search read it
			}
			if err == nil {
				done.Add(1)
			}
			return err
		})
	}
	err := g.Wait()
	return int(done.Load()), err
}
