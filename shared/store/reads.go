package store

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"golang.org/x/sync/errgroup"
)

// ActivePage is one page of a tenant's active sessions.
type ActivePage struct {
	// Sessions hold what an active list shows (activeRow), not the whole session.
	Sessions []*pulse.Session
	// Total is how many sessions are active: the entries of the Active index for the window,
	// less those the page's own reads found ended a moment ago (the index lags the table); from
	// a snapshot, the sessions it holds, less those of users erased since. It is the number of
	// rows that paging through the list at this moment returns.
	Total int
}

// activeEntry is one entry of the Active index.
type activeEntry struct {
	start  int64  // Unix ms of the session's start (the index's range key)
	pk, sk string // the session's keys in the table
}

// sessionRef is what tells entries of the same session apart from others: its table keys.
type sessionRef struct{ pk, sk string }

func (e activeEntry) ref() sessionRef { return sessionRef{e.pk, e.sk} }

// ActiveSince is the start of the active window at now: the start of the 5-minute bucket that
// holds now − window. A session's index entry moves at most once per bucket (so that a
// heartbeat within a bucket writes no index item), so the index knows last activity to the
// bucket, not to the second: counting the window in whole buckets is what lets the list and its
// total be decided from the index alone. A session is therefore active for at least the window
// and at most the window plus 5 minutes after its last activity.
func ActiveSince(now time.Time, window time.Duration) time.Time {
	return now.Add(-window).Truncate(activeBucket)
}

// ActiveSessions returns one page of the tenant's active sessions (live, and last active since
// ActiveSince): entries offset to offset+limit of the Active index, newest 5-minute bucket of
// last activity first, within a bucket the most recently started session first.
//
// With a snapshot of the list under SnapshotMaxAge (a tenant with SnapshotFrom active sessions
// or more: snapshot.go) the page is the snapshot's, read from its chunks: the sessions active at
// the run that took it, as they are now. Otherwise it reads the keys of the index partitions of
// the window (keys only: about 0.016 RCU per active session with UUIDs), then the page's
// sessions by key, eventually consistent (0.5 RCU each; the user's name and type are on the
// session). Every entry of those partitions is active by the window's definition, except a
// session past its absolute lifetime (its start, the range key, tells) and one that ended a
// moment ago (the page's read tells): the total and the rows are decided by the same read of
// the keys. Ended and long-idle sessions are not in these partitions and cost nothing.
func (s *Store) ActiveSessions(ctx context.Context, tenant string, offset, limit int) (*ActivePage, error) {
	const op = "active sessions"
	now := s.now()
	if page, ok, err := s.snapshotPage(ctx, tenant, offset, limit, now); err != nil || ok {
		return page, err
	}
	since := ActiveSince(now, s.policy.ActiveWindow)
	entries, err := s.activeEntries(ctx, op, tenant, now)
	if err != nil {
		return nil, err
	}
	page := &ActivePage{Total: len(entries), Sessions: []*pulse.Session{}}
	entries = entries[min(offset, len(entries)):]
	entries = entries[:min(limit, len(entries))]
	refs := make([]sessionRef, 0, len(entries))
	for _, e := range entries {
		refs = append(refs, e.ref())
	}
	read, err := s.activeRows(ctx, op, refs)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if ss := read[e.ref()]; ss != nil && active(ss, now, since) {
			page.Sessions = append(page.Sessions, ss)
		} else {
			page.Total-- // ended (or gone) since the index was written: not a row, not counted
		}
	}
	return page, nil
}

// activeEntries reads the keys of every partition of the Active index for the window at now,
// and returns the tenant's active sessions in the list's order: newest bucket first, within a
// bucket the most recently started first; a session past its absolute lifetime is left out.
func (s *Store) activeEntries(ctx context.Context, op, tenant string, now time.Time) ([]activeEntry, error) {
	since := ActiveSince(now, s.policy.ActiveWindow)
	// A session started before this has outlived its absolute lifetime, whatever its bucket.
	born := now.Add(-s.policy.MaxLifetime).UnixMilli()
	// Every partition of the window (buckets × shards) is read at once: the partitions are
	// independent, and reading them one after another is what made the list slow at scale.
	var buckets []time.Time
	for b := now.Truncate(activeBucket); !b.Before(since); b = b.Add(-activeBucket) {
		buckets = append(buckets, b)
	}
	parts := make([][]activeEntry, len(buckets)*s.shards)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readFanOut)
	for i, b := range buckets {
		for shard := range s.shards {
			g.Go(func() error {
				got, err := s.activePartition(gctx, op, activeIndexPK(tenant, b, shard))
				parts[i*s.shards+shard] = got
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// The index is updated a moment after the table: an entry can show a session twice (it just
	// moved bucket: the newest wins) or one that has just ended (the read by key decides).
	n := 0
	for _, part := range parts {
		n += len(part)
	}
	seen := make(map[sessionRef]bool, n)
	entries := make([]activeEntry, 0, n)
	for i := range buckets {
		var inBucket []activeEntry
		for _, part := range parts[i*s.shards : (i+1)*s.shards] {
			for _, e := range part {
				if e.start > born && !seen[e.ref()] {
					seen[e.ref()] = true
					inBucket = append(inBucket, e)
				}
			}
		}
		sort.SliceStable(inBucket, func(i, j int) bool {
			if inBucket[i].start != inBucket[j].start {
				return inBucket[i].start > inBucket[j].start
			}
			return inBucket[i].sk < inBucket[j].sk
		})
		entries = append(entries, inBucket...)
	}
	return entries, nil
}

// activeRows reads the sessions refs name, what an active list shows of them (activeRow),
// eventually consistent; a session missing is not in the map.
func (s *Store) activeRows(ctx context.Context, op string, refs []sessionRef) (map[sessionRef]*pulse.Session, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(refs))
	for _, r := range refs {
		keys = append(keys, key(r.pk, r.sk))
	}
	got, err := s.sessionsByKey(ctx, op, keys, activeRow)
	if err != nil {
		return nil, err
	}
	read := make(map[sessionRef]*pulse.Session, len(got))
	for _, ss := range got {
		read[sessionRef{userPK(ss.TenantID, ss.UserID), sessionSK(ss.ID)}] = ss
	}
	return read, nil
}

// activeRow is what the active lists show of a session (the admin surface's row and the
// management API's, which adds the place and the clients) and what tells whether it is still
// live (pulse.Session.State), without the item's index keys, key hash and fingerprint: 20 of
// its 36 attributes, 368 of its 860 bytes with UUIDs and a desktop User-Agent. The lists' tests
// check every field of a row.
var activeRow = project("tenant", "uid", "sid", "uname", "utype", "clients", attrInit, "last", "exp", "hexp",
	"ended", "reason", "ip", "ua", "browser", "bver", "bmajor", "os", "country", "city")

// readFanOut is how many reads one request has in flight at once (index partitions, batches).
const readFanOut = 8

// activePartition reads the keys of one partition of the Active index.
func (s *Store) activePartition(ctx context.Context, op, pk string) ([]activeEntry, error) {
	in := activeQuery(pk, 0, math.MaxInt64)
	in.ScanIndexForward = aws.Bool(false)
	var out []activeEntry
	err := s.query(ctx, op, in, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			out = append(out, activeEntryOf(it))
		}
		return true, nil
	})
	return out, err
}

// activeQuery is the Query of one partition of the Active index, its range key (a start, or an
// end among the tenant's ends) from lo to hi, both included. Its condition is written out once
// rather than built per call: the expression builder took about 17 µs a call, and a page of the
// admin list queries every partition of its window (16 at the default 5-minute window: 2
// buckets of 8 shards).
func activeQuery(pk string, lo, hi int64) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{IndexName: aws.String(indexActive), KeyConditionExpression: aws.String(activeRange),
		ExpressionAttributeNames: activeRangeNames, ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: pk},
			":lo": &types.AttributeValueMemberN{Value: strconv.FormatInt(lo, 10)},
			":hi": &types.AttributeValueMemberN{Value: strconv.FormatInt(hi, 10)},
		}}
}

// activeRange and its names are activeQuery's key condition; the SDK only reads them.
const activeRange = "#pk = :pk AND #sk BETWEEN :lo AND :hi"

var activeRangeNames = map[string]string{"#pk": attrActivePK, "#sk": attrActiveSK}

// activeEntryOf reads one item of the Active index: the session's start and its table keys.
func activeEntryOf(it map[string]types.AttributeValue) activeEntry {
	e := activeEntry{start: numAttr(it, attrActiveSK)}
	if pk, ok := it[attrPK].(*types.AttributeValueMemberS); ok {
		e.pk = pk.Value
	}
	if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok {
		e.sk = sk.Value
	}
	return e
}

// active reports whether ss counts as active now: live, and last active since since. TTL and
// cleanup are late, and the index lags the table: the read decides.
func active(ss *pulse.Session, now, since time.Time) bool {
	return ss.Live(now) && !ss.LastActivity.Before(since)
}

// sessionsByKey reads sessions by key, eventually consistent, whole or only what proj names;
// missing ones are left out.
func (s *Store) sessionsByKey(ctx context.Context, op string, keys []map[string]types.AttributeValue, proj *projection) ([]*pulse.Session, error) {
	raw, err := s.batchGet(ctx, op, keys, false, proj)
	if err != nil {
		return nil, err
	}
	out := make([]*pulse.Session, 0, len(raw))
	for _, item := range raw {
		var it sessionItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, fail(op, err)
		}
		out = append(out, it.session())
	}
	return out, nil
}

// queryKeys returns the table keys of every item of a keys-only index partition.
func (s *Store) queryKeys(ctx context.Context, op, index, attr, value string) ([]map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attr).Equal(expression.Value(value))).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var keys []map[string]types.AttributeValue
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(index), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			keys = append(keys, map[string]types.AttributeValue{attrPK: it[attrPK], attrSK: it[attrSK]})
		}
		return true, nil
	})
	return keys, err
}

// RecordDays records that user was active on each of days (YYYY-MM-DD): LoadHistory for one user.
func (s *Store) RecordDays(ctx context.Context, tenant, user string, days []string) error {
	return s.LoadHistory(ctx, tenant, map[string][]string{user: days}, nil)
}

// LoadHistory records that each user was active on each of their days (YYYY-MM-DD, the tenant's
// zone) and hours (YYYY-MM-DDTHH), in batches: for importing history and for demo data. It
// writes the per-user days the engagement answers list and adds to the tenant's activity
// counters, taking these days and hours as the users' only ones: load a user's whole history
// in one call, before the user is active. Days already rolled up keep their rollup: call
// RollUp once the history is in.
func (s *Store) LoadHistory(ctx context.Context, tenant string, days, hours map[string][]string) error {
	var reqs []types.WriteRequest
	for user, ds := range days {
		for _, d := range slices.Compact(slices.Sorted(slices.Values(ds))) { // a batch refuses a key twice
			item, err := s.dayItem(tenant, user, d)
			if err != nil {
				return fail("record days", err)
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		}
	}
	// Imports are large (30 days of 5,000 users are 150,000 items): 8 batches at a time.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for len(reqs) > 0 {
		n := min(25*40, len(reqs))
		part := reqs[:n]
		reqs = reqs[n:]
		g.Go(func() error { return s.batchWrite(gctx, "record days", part) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.loadStats(ctx, tenant, days, hours, nil)
}
