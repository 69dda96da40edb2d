package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// A tenant's active list at scale is paged from a snapshot of it, which the scheduled function
// takes on every run for the tenants with SnapshotFrom active sessions or more. The list's order
// and its total need every key of the window (about 0.016 RCU an active session with UUIDs: 310
// RCU at 20,000, on every page); the snapshot is those keys, read once a run, in the list's
// order and packed 100 to an item, with their total on one item. A page then reads that item,
// the chunks that hold it (0.5 RCU each) and its sessions by key: what it returns, at any offset.
//
// Counters that move with the sessions would be exact to the moment, but they are written with
// every move of a session between the index's buckets (BENCHMARKS.md, section 5: far more than
// the snapshots' writes at 20,000 active) and would still not tell where a page deep in the list
// begins. The price of the snapshot is its age: the list is the sessions active when it was
// taken (at most a run ago), shown as they are now, and its total is theirs, so that paging
// returns as many rows as it says. A session started or come back since is listed from the next
// run; one ended since stays listed (it was active then) until the next run. An erasure is
// the exception: it makes every snapshot taken before it unusable (the list reads the index
// until the next run), and a run leaves out the users being erased, so that their sessions
// leave the list, and its total, at once.
const (
	// SnapshotFrom is the active count from which a tenant's list pages a snapshot: below it the
	// window's keys cost at most about 16 RCU, and the list stays exact to the moment.
	SnapshotFrom = 1000
	// SnapshotMaxAge is how old a snapshot may be and still be paged: two runs at the default
	// CleanupSchedule. An older one (the schedule is slower, or a run failed) is not used: the
	// list reads the index's keys again, as below SnapshotFrom.
	SnapshotMaxAge = 10 * time.Minute
	// snapshotMax bounds a snapshot (3.4 MB of chunks with UUIDs) and so a run's work for one
	// tenant; a larger list reads the index's keys on every page.
	snapshotMax = 200000
	// snapshotChunk is how many sessions one chunk holds: 100 with UUIDs are about 3.4 KB, one
	// eventually consistent read unit.
	snapshotChunk = 100
	// snapshotKeep is how long a snapshot's chunks stay before TTL removes them: longer than
	// any read that began with it (a page reads its snapshot item first).
	snapshotKeep = time.Hour
)

// snapshotItem is a tenant's snapshot item: which snapshot is current.
type snapshotItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Built  int64  `dynamodbav:"built"`  // Unix ms: when the current snapshot's keys were read; 0 none yet
	Total  int    `dynamodbav:"total"`  // the sessions the snapshot holds
	Chunks int    `dynamodbav:"chunks"` // 0: no chunks (the list is below SnapshotFrom or above snapshotMax)
	Fresh  int64  `dynamodbav:"fresh"`  // Unix ms: only a snapshot built after it may be paged (an erasure began)
}

// snapshotChunkItem is one chunk of a snapshot: the table keys' user and session IDs of up to
// snapshotChunk sessions in the list's order, packed (packIDs: user, session, user, session…).
type snapshotChunkItem struct {
	PK  string `dynamodbav:"pk"`
	SK  string `dynamodbav:"sk"`
	IDs []byte `dynamodbav:"ids"`
	TTL int64  `dynamodbav:"ttl"`
}

// usable reports whether the snapshot may be paged at now.
func (h *snapshotItem) usable(now time.Time) bool {
	age := now.Sub(time.UnixMilli(h.Built))
	return h.Built > h.Fresh && h.Chunks > 0 && age >= 0 && age <= SnapshotMaxAge
}

// snapshotPage returns the page from the tenant's snapshot, and false when there is none to
// use (the caller reads the index).
func (s *Store) snapshotPage(ctx context.Context, tenant string, offset, limit int, now time.Time) (*ActivePage, bool, error) {
	const op = "active sessions"
	var h snapshotItem
	found, err := s.get(ctx, op, snapshotPK(), snapshotSK(tenant), false, &h)
	if err != nil {
		return nil, false, err
	}
	if !found || !h.usable(now) {
		return nil, false, nil
	}
	page := &ActivePage{Total: h.Total, Sessions: []*pulse.Session{}}
	if offset >= h.Total {
		return page, true, nil
	}
	first, last := offset/snapshotChunk, (min(offset+limit, h.Total)-1)/snapshotChunk
	keys := make([]map[string]types.AttributeValue, 0, last-first+1)
	for i := first; i <= last; i++ {
		keys = append(keys, key(snapshotChunkPK(tenant, h.Built), snapshotChunkSK(i)))
	}
	raw, err := s.batchGet(ctx, op, keys, false, nil)
	if err != nil {
		return nil, false, err
	}
	if len(raw) != len(keys) {
		// A run writes every chunk before it names the snapshot, and TTL keeps them longer than
		// any snapshot is used: this is a table restored or edited by hand. The index decides.
		return nil, false, nil
	}
	chunks := make([]snapshotChunkItem, len(raw))
	for i, it := range raw {
		if err := attributevalue.UnmarshalMap(it, &chunks[i]); err != nil {
			return nil, false, fail(op, err)
		}
	}
	slices.SortFunc(chunks, func(a, b snapshotChunkItem) int { return strings.Compare(a.SK, b.SK) })
	var refs []sessionRef
	for _, c := range chunks {
		ids, err := unpackIDs(c.IDs)
		if err != nil || len(ids)%2 != 0 {
			return nil, false, fail(op, fmt.Errorf("snapshot chunk %s#%s: %v", c.PK, c.SK, err))
		}
		for i := 0; i < len(ids); i += 2 {
			refs = append(refs, sessionRef{userPK(tenant, ids[i]), sessionSK(ids[i+1])})
		}
	}
	refs = refs[min(offset-first*snapshotChunk, len(refs)):]
	refs = refs[:min(limit, len(refs))]
	read, err := s.activeRows(ctx, op, refs)
	if err != nil {
		return nil, false, err
	}
	for _, r := range refs {
		// A session ended since the snapshot was active then and stays a row until the next.
		// An erased user's is never one: the erasure made older snapshots unusable, and a run
		// leaves out the users being erased; were one here all the same, it is not shown.
		if ss := read[r]; ss != nil && ss.EndReason != pulse.EndErased {
			page.Sessions = append(page.Sessions, ss)
		} else {
			page.Total--
		}
	}
	return page, true, nil
}

// TakeActiveSnapshots takes a snapshot of the active list of every registered tenant with
// SnapshotFrom active sessions or more (a probe of one shard tells, about 0.5 RCU a bucket; the
// snapshot's own read decides), and of every tenant that had one (so that a list that shrank
// stops paging it), one tenant after another until stop says so. It returns how many it took
// and whether it went through every tenant.
func (s *Store) TakeActiveSnapshots(ctx context.Context, stop func() bool) (int, bool, error) {
	const op = "snapshot active sessions"
	now := s.now()
	had := map[string]bool{}
	in := &dynamodb.QueryInput{KeyConditionExpression: aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: snapshotPK()}}}
	err := s.query(ctx, op, in, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			var h snapshotItem
			if err := attributevalue.UnmarshalMap(it, &h); err != nil {
				return false, fail(op, err)
			}
			had[h.SK] = h.Chunks > 0
		}
		return true, nil
	})
	if err != nil {
		return 0, false, err
	}
	tenants, err := s.tenantsAfter(ctx, op, "")
	if err != nil {
		return 0, false, err
	}
	taken := 0
	for _, tenant := range tenants {
		if stop() {
			return taken, false, nil
		}
		large, err := s.probeActive(ctx, op, tenant, now)
		if err != nil {
			return taken, false, err
		}
		if !large && !had[tenant] {
			continue
		}
		took, err := s.takeSnapshot(ctx, op, tenant, now)
		if err != nil {
			return taken, false, err
		}
		if took {
			taken++
		}
	}
	return taken, true, nil
}

// probeActive reports whether the tenant may have SnapshotFrom active sessions: whether the
// window's first write shard holds at least half its share of them. Sessions spread over the
// shards evenly (by a hash of their ID), so a list that large is never missed in practice.
func (s *Store) probeActive(ctx context.Context, op, tenant string, now time.Time) (bool, error) {
	need := SnapshotFrom / s.shards / 2
	seen := 0
	since := ActiveSince(now, s.policy.ActiveWindow)
	for b := now.Truncate(activeBucket); !b.Before(since) && seen < need; b = b.Add(-activeBucket) {
		in := activeQuery(activeIndexPK(tenant, b, 0), 0, math.MaxInt64)
		in.Limit = aws.Int32(int32(need - seen))
		err := s.query(ctx, op, in, func(page []map[string]types.AttributeValue) (bool, error) {
			seen += len(page)
			return false, nil
		})
		if err != nil {
			return false, err
		}
	}
	return seen >= need, nil
}

// snapshotsStale makes the tenant's snapshots taken until now unusable (an erasure began). A
// tenant whose list was never read has no snapshot item, and gets none.
func (s *Store) snapshotsStale(ctx context.Context, op, tenant string, now time.Time) error {
	_, err := s.updateItem(ctx, op, &dynamodb.UpdateItemInput{Key: key(snapshotPK(), snapshotSK(tenant)),
		UpdateExpression:         aws.String("SET #fresh = :now"),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#fresh": "fresh", "#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.UnixMilli(), 10)},
		}})
	if failed, _ := conditionFailed(err); failed {
		return nil
	}
	return err
}

// takeSnapshot reads the tenant's active keys, writes them in chunks, then names the snapshot
// on the tenant's snapshot item, unless a run has named a later one meanwhile; below
// SnapshotFrom (or above snapshotMax) it names none, and the list reads the index. It reports
// whether it named chunks. The sessions of
// users being erased are left out: the registry of erasures is read after now (strongly
// consistent), so it names every user whose erasure made snapshots until now unusable.
func (s *Store) takeSnapshot(ctx context.Context, op, tenant string, now time.Time) (bool, error) {
	erasing, err := s.erasing(ctx, op, tenant)
	if err != nil {
		return false, err
	}
	all, err := s.activeEntries(ctx, op, tenant, now)
	if err != nil {
		return false, err
	}
	entries := all[:0]
	for _, e := range all {
		if !erasing[e.pk] {
			entries = append(entries, e)
		}
	}
	built := now.UnixMilli()
	chunks := 0
	if len(entries) >= SnapshotFrom && len(entries) <= snapshotMax {
		var reqs []types.WriteRequest
		for from := 0; from < len(entries); from += snapshotChunk {
			part := entries[from:min(from+snapshotChunk, len(entries))]
			ids := make([]string, 0, 2*len(part))
			for _, e := range part {
				user, session := ownerOfKeys(tenant, e.pk, e.sk)
				ids = append(ids, user, session)
			}
			packed, err := packIDs(ids)
			if err != nil {
				return false, fail(op, err)
			}
			item, err := attributevalue.MarshalMap(snapshotChunkItem{PK: snapshotChunkPK(tenant, built), SK: snapshotChunkSK(chunks),
				IDs: packed, TTL: now.Add(snapshotKeep).Unix()})
			if err != nil {
				return false, fail(op, err)
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			chunks++
		}
		if err := s.batchWrite(ctx, op, reqs); err != nil {
			return false, err
		}
	}
	_, err = s.updateItem(ctx, op, &dynamodb.UpdateItemInput{Key: key(snapshotPK(), snapshotSK(tenant)),
		UpdateExpression:         aws.String("SET #built = :built, #total = :total, #chunks = :chunks"),
		ConditionExpression:      aws.String("attribute_not_exists(#built) OR #built < :built"),
		ExpressionAttributeNames: map[string]string{"#built": "built", "#total": "total", "#chunks": "chunks"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":built":  &types.AttributeValueMemberN{Value: strconv.FormatInt(built, 10)},
			":total":  &types.AttributeValueMemberN{Value: strconv.Itoa(len(entries))},
			":chunks": &types.AttributeValueMemberN{Value: strconv.Itoa(chunks)},
		}})
	if failed, _ := conditionFailed(err); failed {
		return false, nil // a run that began later named its snapshot first: it is the newer one
	}
	return chunks > 0, err
}

// erasing is the table partition keys of the tenant's users whose erasure is under way.
func (s *Store) erasing(ctx context.Context, op, tenant string) (map[string]bool, error) {
	in := &dynamodb.QueryInput{KeyConditionExpression: aws.String("#pk = :pk AND begins_with(#sk, :tenant)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     &types.AttributeValueMemberS{Value: erasedPK()},
			":tenant": &types.AttributeValueMemberS{Value: erasedSK(tenant, "")},
		}, ConsistentRead: aws.Bool(true)}
	out := map[string]bool{}
	err := s.query(ctx, op, in, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			var e erasedItem
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				return false, fail(op, err)
			}
			out[userPK(e.Tenant, e.User)] = true
		}
		return true, nil
	})
	return out, err
}
