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
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"golang.org/x/sync/errgroup"
)

// SessionFilter is what a search of the tenant's sessions matches; a zero field matches
// everything. UserID, UserPrefix and SessionID are decided from the Active index's keys alone;
// the others need the session, read by key.
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
	// StartedAfter keeps sessions that started at or after it (for active sessions decided from
	// the index's range key, the session's start).
	StartedAfter time.Time
}

// Zero reports whether f names no filter at all: it matches every session.
func (f SessionFilter) Zero() bool { return f == SessionFilter{} }

// byIDs reports whether user's session can match, from its IDs alone.
func (f SessionFilter) byIDs(user, session string) bool {
	return (f.UserID == "" || user == f.UserID) && strings.HasPrefix(user, f.UserPrefix) &&
		(f.SessionID == "" || session == f.SessionID)
}

// byKey reports whether the index entry of user's session, started at start (Unix ms), can
// match.
func (f SessionFilter) byKey(user, session string, start int64) bool {
	return f.byIDs(user, session) && (f.StartedAfter.IsZero() || start >= f.StartedAfter.UnixMilli())
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
// SearchExamined entries of the Active index (keys only, about 0.03 RCU each on AWS's rules),
// reads at most SearchReads sessions by key (0.5 RCU each, eventually consistent) and queries at
// most SearchQueries index partitions (0.5 RCU each at least, even empty), so a request costs at
// most about 130 RCU (about 100 measured); a search of ended sessions also reads the user of each
// session it answers (at most limit, 0.5 RCU each). A search that has not gone through its
// partitions within that answers what it found with a cursor to go on from.
const (
	SearchExamined = 1000
	SearchReads    = 200
	SearchQueries  = 64
)

// SearchPage is one answer of a search.
type SearchPage struct {
	Sessions []*pulse.Session
	// Next continues the search where this answer stopped; empty once every partition of the
	// search has been searched.
	Next string
	// Examined is how many index entries this answer examined.
	Examined int
}

// searchCursor is where a search stopped: the last index entry it consumed in the partition
// (bucket, shard) of the Active index, or, with no entry (User and Session empty), the start of
// that partition. Ended tells a search of ended sessions' cursor from an active one's. The tenant
// is never in it (the caller's is used).
type searchCursor struct {
	Ended   bool   `json:"e,omitempty"`
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

// decodeCursor reads a cursor of a search of active (ended false) or ended sessions.
func (s *Store) decodeCursor(text string, ended bool) (*searchCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(raw) > 2048 {
		return nil, errBadCursor
	}
	bucket, shards := activeBucket, s.shards
	if ended {
		bucket, shards = endedBucket, endedShards
	}
	var c searchCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.Ended != ended || c.Bucket%int64(bucket/time.Second) != 0 ||
		c.Shard < 0 || c.Shard >= shards {
		return nil, errBadCursor
	}
	if c.User == "" && c.Session == "" && c.Start == 0 {
		return &c, nil // the start of a partition
	}
	if pulse.ValidID(c.User) != nil || pulse.ValidID(c.Session) != nil {
		return nil, errBadCursor
	}
	return &c, nil
}

// searchPart is one partition of the Active index a search reads: its key, and the bounds of
// the range key it reads (inclusive).
type searchPart struct {
	bucket time.Time
	shard  int
	pk     string
	lo, hi int64
}

// scan is one search request under way: what it looks for, what it has spent, what it found.
type scan struct {
	tenant string
	limit  int
	ended  bool
	// entryOK decides from an entry's IDs and range key whether its session may match; keep
	// decides on the session read.
	entryOK func(user, session string, rangeKey int64) bool
	keep    func(ss *pulse.Session) bool
	page    *SearchPage
	reads   int
	queries int
	seen    map[string]bool
	// erased holds the users read so far (ended sessions only): true when being erased.
	erased map[string]bool
}

// SearchActive returns up to limit of the tenant's active sessions that match f, from where
// cursor (a SearchPage.Next, or "") stopped. It walks the Active index partitions of the
// active window from the oldest bucket to the newest: a session that moves bucket while a
// client pages moves ahead of the search, so it may be answered twice (the client drops the
// repeat by session ID), never skipped. Its cost is bounded by SearchExamined, SearchReads and
// SearchQueries, not by the tenant's size.
func (s *Store) SearchActive(ctx context.Context, tenant string, f SessionFilter, limit int, cursor string) (*SearchPage, error) {
	now := s.now()
	since := ActiveSince(now, s.policy.ActiveWindow)
	born := now.Add(-s.policy.MaxLifetime).UnixMilli()
	later := now.Add(time.Hour).UnixMilli() // a session another instance started, its clock ahead
	var parts []searchPart
	for b := since; !b.After(now); b = b.Add(activeBucket) {
		for shard := range s.shards {
			parts = append(parts, searchPart{bucket: b, shard: shard, pk: activeIndexPK(tenant, b, shard), lo: born + 1, hi: later})
		}
	}
	sc := &scan{tenant: tenant, limit: limit,
		entryOK: func(user, session string, start int64) bool { return start > born && f.byKey(user, session, start) },
		keep:    func(ss *pulse.Session) bool { return active(ss, now, since) && f.matches(ss) }}
	return s.search(ctx, sc, parts, cursor)
}

// SearchEnded returns up to limit of the tenant's sessions whose end was recorded within
// [after, before] and that match f, from where cursor stopped. A revoke or an eviction is
// recorded at once; a session that went idle or reached its lifetime when the cleanup ends it
// (within its schedule), with its expiry as its end. It walks the tenant's ends in the Active
// index (endedIndexPK) day by day from after, each day's shards in turn (within a day the answer
// is in end order shard by shard, not overall). Ends older than the retention are gone, so after
// is raised to it. A zero before is now, a zero after DefaultEndedRange before before. A user
// being erased shows none of their sessions: the search reads the user of each session that
// matches. The cost is bounded as SearchActive's.
func (s *Store) SearchEnded(ctx context.Context, tenant string, f SessionFilter, after, before time.Time, limit int, cursor string) (*SearchPage, error) {
	now := s.now()
	if before.IsZero() {
		before = now
	}
	if after.IsZero() {
		after = before.Add(-DefaultEndedRange)
	}
	if oldest := now.Add(-s.policy.Retention - 24*time.Hour); after.Before(oldest) {
		after = oldest
	}
	if before.After(now) {
		before = now
	}
	if after.After(before) { // a range in the future, or past the retention: nothing ended in it
		if cursor != "" {
			if _, err := s.decodeCursor(cursor, true); err != nil {
				return nil, err
			}
		}
		return &SearchPage{Sessions: []*pulse.Session{}}, nil
	}
	var parts []searchPart
	for d := after.Truncate(endedBucket); !d.After(before); d = d.Add(endedBucket) {
		for shard := range endedShards {
			parts = append(parts, searchPart{bucket: d, shard: shard, pk: endedIndexPK(tenant, d, shard), lo: after.UnixMilli(), hi: before.UnixMilli()})
		}
	}
	sc := &scan{tenant: tenant, limit: limit, ended: true, erased: map[string]bool{},
		entryOK: func(user, session string, _ int64) bool { return f.byIDs(user, session) },
		keep: func(ss *pulse.Session) bool {
			return ss.EndReason != "" && !ss.EndedAt.Before(after) && !ss.EndedAt.After(before) && f.matches(ss)
		}}
	return s.search(ctx, sc, parts, cursor)
}

// DefaultEndedRange is how far back from its end a search of ended sessions looks when not told.
const DefaultEndedRange = 24 * time.Hour

// search walks parts in order from cursor, within the request's budgets.
func (s *Store) search(ctx context.Context, sc *scan, parts []searchPart, cursor string) (*SearchPage, error) {
	var from *searchCursor
	if cursor != "" {
		c, err := s.decodeCursor(cursor, sc.ended)
		if err != nil {
			return nil, err
		}
		from = c
	}
	sc.page, sc.seen = &SearchPage{Sessions: []*pulse.Session{}}, map[string]bool{}
	for _, p := range parts {
		var resume *searchCursor
		if from != nil {
			if b := p.bucket.Unix(); b < from.Bucket || b == from.Bucket && p.shard < from.Shard {
				continue // searched before
			} else if b == from.Bucket && p.shard == from.Shard && from.User != "" {
				resume = from
			}
		}
		if sc.queries == SearchQueries {
			// The query budget is spent: the next answer starts with this partition.
			sc.page.Next = searchCursor{Ended: sc.ended, Bucket: p.bucket.Unix(), Shard: p.shard}.encode()
			return sc.page, nil
		}
		last, done, err := s.searchPartition(ctx, sc, p, resume)
		if err != nil {
			return nil, err
		}
		if !done {
			sc.page.Next = last.encode()
			return sc.page, nil
		}
	}
	return sc.page, nil
}

// searchPartition searches one partition of the Active index from resume (or its start). It
// reports done when the partition was searched to its end; otherwise the search stops at last
// (the page is full, or the request's budget is spent).
func (s *Store) searchPartition(ctx context.Context, sc *scan, p searchPart, resume *searchCursor) (searchCursor, bool, error) {
	const op = "search sessions"
	page := sc.page
	last := searchCursor{Ended: sc.ended, Bucket: p.bucket.Unix(), Shard: p.shard}
	if resume != nil {
		last = *resume
	}
	in := activeQuery(p.pk, p.lo, p.hi)
	in.Limit = aws.Int32(int32(min(100, SearchExamined-page.Examined)))
	if resume != nil {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			attrActivePK: &types.AttributeValueMemberS{Value: p.pk},
			attrActiveSK: &types.AttributeValueMemberN{Value: strconv.FormatInt(resume.Start, 10)},
			attrPK:       &types.AttributeValueMemberS{Value: userPK(sc.tenant, resume.User)},
			attrSK:       &types.AttributeValueMemberS{Value: sessionSK(resume.Session)},
		}
	}
	done := true
	err := s.query(ctx, op, in, func(items []map[string]types.AttributeValue) (bool, error) {
		sc.queries++
		// Consume entries in order while the budgets allow; the candidates are read at once.
		type entry struct {
			pos  searchCursor
			cand bool
		}
		var entries []entry
		var keys []map[string]types.AttributeValue
		for _, it := range items {
			if page.Examined+len(entries) == SearchExamined {
				break // the examination budget is spent (a page can hold more than is left)
			}
			ae := activeEntryOf(it)
			user, session := ownerOf(sc.tenant, it)
			e := entry{pos: searchCursor{Ended: sc.ended, Bucket: p.bucket.Unix(), Shard: p.shard, Start: ae.start, User: user, Session: session}}
			e.cand = user != "" && sc.entryOK(user, session, ae.start) && !sc.seen[user+"|"+session]
			if e.cand {
				if sc.reads+len(keys) == SearchReads {
					break // the read budget is spent: stop before this entry
				}
				sc.seen[user+"|"+session] = true
				keys = append(keys, key(ae.pk, ae.sk))
			}
			entries = append(entries, e)
		}
		got, err := s.sessionsByKey(ctx, op, keys, nil)
		if err != nil {
			return false, err
		}
		sc.reads += len(keys)
		read := map[string]*pulse.Session{}
		for _, ss := range got {
			if sc.keep(ss) {
				read[ss.UserID+"|"+ss.ID] = ss
			}
		}
		// The users of the first sessions that match, as many as the answer has room for, in the
		// entries' order: at most limit user reads an answer.
		var users []string
		for i, room := 0, sc.limit-len(page.Sessions); sc.ended && i < len(entries) && len(users) < room; i++ {
			if ss := read[entries[i].pos.User+"|"+entries[i].pos.Session]; entries[i].cand && ss != nil {
				if _, known := sc.erased[ss.UserID]; !known && !slices.Contains(users, ss.UserID) {
					users = append(users, ss.UserID)
				}
			}
		}
		if err := s.readErased(ctx, op, sc, users); err != nil {
			return false, err
		}
		for _, e := range entries {
			ss := read[e.pos.User+"|"+e.pos.Session]
			if !e.cand {
				ss = nil
			}
			if ss != nil && sc.ended {
				erased, known := sc.erased[ss.UserID]
				if !known {
					// Its user was not read (the erased took the room): the next answer starts here.
					done = false
					return false, nil
				}
				if erased {
					ss = nil
				}
			}
			page.Examined++
			last = e.pos
			if ss != nil {
				page.Sessions = append(page.Sessions, ss)
				if len(page.Sessions) == sc.limit {
					done = false
					return false, nil
				}
			}
		}
		if len(entries) < len(items) || page.Examined >= SearchExamined || sc.reads >= SearchReads || sc.queries >= SearchQueries {
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

// readErased reads users (eventually consistent) into sc.erased: true for one being erased,
// or gone. A search of ended sessions reads the user of each session it may answer, once a
// request: at most limit reads beyond SearchReads.
func (s *Store) readErased(ctx context.Context, op string, sc *scan, users []string) error {
	if len(users) == 0 {
		return nil
	}
	keys := make([]map[string]types.AttributeValue, len(users))
	for i, u := range users {
		keys[i] = key(userPK(sc.tenant, u), userSK())
		sc.erased[u] = true // unless read below
	}
	raw, err := s.batchGet(ctx, op, keys, false, nil)
	if err != nil {
		return err
	}
	for _, item := range raw {
		var u userItem
		if err := attributevalue.UnmarshalMap(item, &u); err != nil {
			return fail(op, err)
		}
		sc.erased[u.ID] = u.Erased != 0
	}
	return nil
}

// ownerOf reads the user and session IDs from an index entry's table keys.
func ownerOf(tenant string, it map[string]types.AttributeValue) (user, session string) {
	pk, _ := it[attrPK].(*types.AttributeValueMemberS)
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "", ""
	}
	return ownerOfKeys(tenant, pk.Value, sk.Value)
}

// ownerOfKeys reads the user and session IDs from a session's table keys.
func ownerOfKeys(tenant, pk, sk string) (user, session string) {
	user, ok := strings.CutPrefix(pk, userPK(tenant, ""))
	if !ok {
		return "", ""
	}
	session, _ = strings.CutPrefix(sk, sessionPrefix)
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
