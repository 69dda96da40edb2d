package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
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

// A closed day's active users are kept as a rollup. Random IDs (UUIDs) barely compress, so a
// month's users are stored once, in a dictionary that grows by the users first seen on each
// closed day (rollupDictSK: packed IDs, a UUID in 17 bytes, gzip-compressed, in chunks of at
// most rollupChunk bytes before compression; an item holds at most 400 KB), and each day's
// rollup is a bitmap over that dictionary (one bit per user of the month so far, compressed).
// Reading 30 days of 5,000 users then costs the month's distinct users once plus a few hundred
// bytes a day, instead of 150,000 index entries of about 80 bytes each, or 30 lists of the same
// IDs. Days not yet rolled up (today, and a day or so after it ends) are read from the Days
// index. Rollups written before the dictionary (rollupFormatList) are still read.
const rollupChunk = 300 << 10

// Rollup formats: the sorted IDs themselves (newline-separated, gzip), or a bitmap over the
// month's dictionary.
const (
	rollupFormatList   = 0
	rollupFormatBitmap = 2
)

// closeAfter is how long after midnight UTC the scheduled rollup closes the day before: every
// time zone's day has ended by then (UTC−12 ends 12 hours later), with 10 minutes of grace for
// requests in flight.
const closeAfter = 12*time.Hour + 10*time.Minute

// rollupItem is one chunk of a day's rollup, or one chunk of a month's dictionary.
type rollupItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Type   string `dynamodbav:"type"`
	Tenant string `dynamodbav:"tenant"`
	Day    string `dynamodbav:"day"`
	Chunk  int    `dynamodbav:"chunk"`
	Chunks int    `dynamodbav:"chunks"`
	N      int    `dynamodbav:"n"`
	Users  []byte `dynamodbav:"users,omitempty"` // list format, or a dictionary chunk (packIDs)
	Format int    `dynamodbav:"fmt,omitempty"`
	// Bitmap format: the dictionary chunks (their sort keys) the bitmap covers in order, how
	// many users each held when the day was rolled up, and one bit per user (gzip).
	Parts []string `dynamodbav:"parts,omitempty"`
	Sizes []int    `dynamodbav:"sizes,omitempty"`
	Bits  []byte   `dynamodbav:"bits,omitempty"`
	TTL   int64    `dynamodbav:"ttl"`
}

// DayUsers is the users active on one day.
type DayUsers struct {
	Day   string // YYYY-MM-DD
	Users []string
}

// clampDays clamps a range of days (YYYY-MM-DD) to what activity is kept (ACTIVITY_RETENTION,
// and two days of slack for time zones) and to today in zone: before anything is read, so a
// range to the year 9999 costs what a range to today costs.
func (s *Store) clampDays(first, last string, zone *time.Location) (string, string) {
	if zone == nil {
		zone = time.UTC
	}
	now := s.now()
	if horizon := now.Add(-s.policy.ActivityKeep - 48*time.Hour).UTC().Format(time.DateOnly); first < horizon {
		first = horizon
	}
	if today := now.In(zone).Format(time.DateOnly); last > today {
		last = today
	}
	return first, last
}

// DailyActiveUsers hands each day from first to last (YYYY-MM-DD in the tenant's time zone,
// both included) that had activity to each, newest day first, with its distinct users sorted;
// each returning an error stops it (the caller's answer has grown too large). Both ends are
// clamped first: to the activity retention, and to today. Closed days come from their rollups,
// the others from the Days index.
func (s *Store) DailyActiveUsers(ctx context.Context, tenant, first, last string, zone *time.Location, each func(DayUsers) error) error {
	const op = "daily active users"
	if zone == nil {
		zone = time.UTC
	}
	first, last = s.clampDays(first, last, zone)
	if first > last || len(first) != 10 || len(last) != 10 {
		return nil
	}
	month, err := time.Parse("2006-01", last[:7])
	if err != nil {
		return pulse.Invalid(op, map[string][]string{"last": {"not a day: " + last}})
	}
	for ; month.Format("2006-01") >= first[:7]; month = month.AddDate(0, -1, 0) {
		m := month.Format("2006-01")
		lo, hi := max(first, m+"-01"), min(last, month.AddDate(0, 1, -1).Format(time.DateOnly))
		rolled, err := s.rollups(ctx, op, tenant, lo, hi)
		if err != nil {
			return err
		}
		// Days without a rollup (today, days not closed yet) are read from the Days index, one
		// Query for the newest run of them (older ones are rolled up in the normal course).
		var open []string
		for d := hi; d >= lo; d = prevDay(d) {
			if _, ok := rolled[d]; !ok {
				open = append(open, d)
			}
		}
		live := map[string][]string{}
		if len(open) > 0 {
			if live, err = s.daysFromIndex(ctx, op, tenant, m, open[len(open)-1], open[0]); err != nil {
				return err
			}
		}
		for d := hi; d >= lo; d = prevDay(d) {
			users, ok := rolled[d]
			if !ok {
				users = live[d]
			}
			if len(users) == 0 {
				continue
			}
			if err := each(DayUsers{Day: d, Users: users}); err != nil {
				return err
			}
		}
	}
	return nil
}

func prevDay(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}

// rollups reads the rollups of days lo..hi of one month: day → users (empty for a closed day
// without activity). A day whose rollup is incomplete (being rewritten) is left out, and so
// read from the Days index.
func (s *Store) rollups(ctx context.Context, op, tenant, lo, hi string) (map[string][]string, error) {
	out := map[string][]string{}
	chunks := map[string]int{}
	want := map[string]int{}
	bitmaps := map[string]rollupItem{}
	err := s.rollupChunks(ctx, op, tenant, lo, hi, false, func(it rollupItem) error {
		if it.Format == rollupFormatBitmap {
			bitmaps[it.Day] = it
			return nil
		}
		users, err := gunzipLines(it.Users)
		if err != nil {
			return err
		}
		out[it.Day] = append(out[it.Day], users...)
		chunks[it.Day]++
		want[it.Day] = it.Chunks
		return nil
	})
	if err != nil {
		return nil, err
	}
	for d, n := range chunks {
		if n != want[d] {
			delete(out, d)
		}
	}
	if len(bitmaps) == 0 {
		return out, nil
	}
	// The dictionary up to the last day asked for: the users first seen on later days are not
	// in these days' bitmaps.
	dict, err := s.dictionary(ctx, op, tenant, lo[:7], rollupDictPrefix+hi+"$", false)
	if err != nil {
		return nil, err
	}
	for d, it := range bitmaps {
		users, ok, err := it.usersOf(dict)
		if err != nil {
			return nil, fail(op, err)
		}
		if ok {
			out[d] = users
		} else {
			delete(out, d)
		}
	}
	return out, nil
}

// usersOf decodes a bitmap rollup against its month's dictionary (chunk sort key → IDs), the
// users sorted. It reports false when a chunk the bitmap covers is missing or has another size
// (a rollup being written): the day is then read from the index.
func (it rollupItem) usersOf(dict map[string][]string) ([]string, bool, error) {
	bits, err := gunzip(it.Bits)
	if err != nil || len(it.Parts) != len(it.Sizes) {
		return nil, false, err
	}
	users := make([]string, 0, it.N)
	pos := 0
	for i, part := range it.Parts {
		ids, ok := dict[part]
		if !ok || len(ids) != it.Sizes[i] || (pos+len(ids)+7)/8 > len(bits) {
			return nil, false, nil
		}
		for j, id := range ids {
			if k := pos + j; bits[k/8]&(1<<(k%8)) != 0 && id != "" { // "" is an erased user
				users = append(users, id)
			}
		}
		pos += len(ids)
	}
	slices.Sort(users)
	return users, true, nil
}

// rollupChunks hands each chunk of the rollups of days lo..hi (one month) to each.
func (s *Store) rollupChunks(ctx context.Context, op, tenant, lo, hi string, consistent bool, each func(rollupItem) error) error {
	kc := expression.Key(attrPK).Equal(expression.Value(rollupPK(tenant, lo[:7]))).
		And(expression.Key(attrSK).Between(expression.Value(lo), expression.Value(hi+"$")))
	return s.rollupItems(ctx, op, kc, consistent, each)
}

// dictionary reads a month's dictionary chunks whose sort keys are below upTo: chunk sort key →
// user IDs ("" for an erased one).
func (s *Store) dictionary(ctx context.Context, op, tenant, month, upTo string, consistent bool) (map[string][]string, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(rollupPK(tenant, month))).
		And(expression.Key(attrSK).Between(expression.Value(rollupDictPrefix), expression.Value(upTo)))
	dict := map[string][]string{}
	err := s.rollupItems(ctx, op, kc, consistent, func(it rollupItem) error {
		ids, err := unpackIDs(it.Users)
		dict[it.SK] = ids
		return err
	})
	return dict, err
}

func (s *Store) rollupItems(ctx context.Context, op string, kc expression.KeyConditionBuilder, consistent bool, each func(rollupItem) error) error {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return fail(op, err)
	}
	return s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(), ConsistentRead: aws.Bool(consistent),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, raw := range page {
			var it rollupItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return false, err
			}
			if err := each(it); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// daysFromIndex reads the users of days lo..hi of one month from the Days index.
func (s *Store) daysFromIndex(ctx context.Context, op, tenant, month, lo, hi string) (map[string][]string, error) {
	kc := expression.Key(attrDayPK).Equal(expression.Value(dayIndexPK(tenant, month))).
		And(expression.Key(attrDaySK).Between(expression.Value(lo), expression.Value(hi+"$"))) // '$' sorts after '#'
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	out := map[string][]string{}
	err = s.query(ctx, op, &dynamodb.QueryInput{IndexName: aws.String(indexDays), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			sk, _ := it[attrDaySK].(*types.AttributeValueMemberS)
			if sk == nil {
				continue
			}
			if day, user, ok := strings.Cut(sk.Value, "#"); ok {
				out[day] = append(out[day], user)
			}
		}
		return true, nil
	})
	return out, err
}

// RollUp writes the rollups of a tenant's closed days among days (after importing history),
// oldest first, as the scheduled function does: a day's dictionary chunk holds only the users
// the days before it in its month do not.
func (s *Store) RollUp(ctx context.Context, tenant string, days []string) error {
	closed := s.now().UTC().Add(-closeAfter).AddDate(0, 0, -1).Format(time.DateOnly)
	for _, d := range slices.Sorted(slices.Values(days)) {
		if d <= closed {
			if err := s.RollUpDay(ctx, tenant, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// RollUpDay writes the rollup of one of a tenant's days from the Days index, replacing any: the
// users first seen that day in its month join the month's dictionary, then the day's bitmap is
// written over it. Run on closed days only: activity recorded later would be missing from it.
// Run again, it writes the same items (its dictionary chunks are the users the days before it
// do not hold).
func (s *Store) RollUpDay(ctx context.Context, tenant, day string) error {
	const op = "roll up day"
	users, err := s.daysFromIndex(ctx, op, tenant, day[:7], day, day)
	if err != nil {
		return err
	}
	dict, err := s.dictionary(ctx, op, tenant, day[:7], rollupDictPrefix+day, true) // the days before
	if err != nil {
		return err
	}
	day0, _ := time.Parse(time.DateOnly, day)
	ttl := day0.AddDate(0, 1, 0).Add(24*time.Hour + s.policy.ActivityKeep).Unix() // past the month's last day's rollup
	index := map[string]int{}
	var parts []string
	var sizes []int
	pos := 0
	for _, part := range slices.Sorted(maps.Keys(dict)) {
		for j, id := range dict[part] {
			if _, dup := index[id]; !dup && id != "" {
				index[id] = pos + j
			}
		}
		parts, sizes, pos = append(parts, part), append(sizes, len(dict[part])), pos+len(dict[part])
	}
	var fresh [][]string
	size := rollupChunk
	for _, u := range users[day] {
		if _, ok := index[u]; ok {
			continue
		}
		if size += packedSize(u); size > rollupChunk {
			fresh, size = append(fresh, nil), packedSize(u)
		}
		fresh[len(fresh)-1] = append(fresh[len(fresh)-1], u)
	}
	var reqs []types.WriteRequest
	for i, c := range fresh {
		blob, err := packIDs(c)
		if err != nil {
			return fail(op, err)
		}
		part := rollupDictSK(day, i)
		item, err := attributevalue.MarshalMap(rollupItem{PK: rollupPK(tenant, day[:7]), SK: part, Type: "rollup-users",
			Tenant: tenant, Day: day, Chunk: i, Chunks: len(fresh), N: len(c), Users: blob, TTL: ttl})
		if err != nil {
			return fail(op, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		for j, id := range c {
			index[id] = pos + j
		}
		parts, sizes, pos = append(parts, part), append(sizes, len(c)), pos+len(c)
	}
	// The dictionary chunks first: a bitmap whose chunks are not all there yet is not read.
	if err := s.batchWrite(ctx, op, reqs); err != nil {
		return err
	}
	bits := make([]byte, (pos+7)/8)
	for _, u := range users[day] {
		k := index[u]
		bits[k/8] |= 1 << (k % 8)
	}
	blob, err := gzipBytes(bits)
	if err != nil {
		return fail(op, err)
	}
	item, err := attributevalue.MarshalMap(rollupItem{PK: rollupPK(tenant, day[:7]), SK: rollupSK(day, 0), Type: "rollup",
		Tenant: tenant, Day: day, Chunks: 1, N: len(users[day]), Format: rollupFormatBitmap, Parts: parts, Sizes: sizes, Bits: blob,
		TTL: s.now().Add(24*time.Hour + s.policy.ActivityKeep).Unix()})
	if err != nil {
		return fail(op, err)
	}
	return s.putItem(ctx, op, &dynamodb.PutItemInput{Item: item})
}

// packIDs writes user IDs compactly: a lowercase canonical UUID as 0x01 and its 16 bytes,
// anything else as 0x00, its length (uvarint) and its bytes, an erased user ("") as 0x02; the
// whole gzip-compressed.
func packIDs(ids []string) ([]byte, error) {
	var raw []byte
	for _, id := range ids {
		switch u, ok := uuidBytes(id); {
		case id == "":
			raw = append(raw, 2)
		case ok:
			raw = append(append(raw, 1), u[:]...)
		default:
			raw = binary.AppendUvarint(append(raw, 0), uint64(len(id)))
			raw = append(raw, id...)
		}
	}
	return gzipBytes(raw)
}

// packedSize is how many bytes packIDs gives id before compression.
func packedSize(id string) int {
	if _, ok := uuidBytes(id); ok {
		return 17
	}
	return 1 + binary.PutUvarint(make([]byte, binary.MaxVarintLen64), uint64(len(id))) + len(id)
}

func unpackIDs(blob []byte) ([]string, error) {
	raw, err := gunzip(blob)
	if err != nil {
		return nil, err
	}
	var ids []string
	for len(raw) > 0 {
		tag := raw[0]
		raw = raw[1:]
		switch {
		case tag == 2:
			ids = append(ids, "")
		case tag == 1 && len(raw) >= 16:
			ids = append(ids, uuidString(raw[:16]))
			raw = raw[16:]
		case tag == 0:
			n, k := binary.Uvarint(raw)
			if k <= 0 || uint64(len(raw)-k) < n {
				return nil, errors.New("a dictionary chunk ends inside an ID")
			}
			ids = append(ids, string(raw[k:k+int(n)]))
			raw = raw[k+int(n):]
		default:
			return nil, fmt.Errorf("a dictionary chunk holds tag %d", tag)
		}
	}
	return ids, nil
}

// uuidBytes parses a lowercase canonical UUID (8-4-4-4-12 hex digits); anything else, even an
// uppercase UUID, is not one, so that unpacking gives back exactly the ID packed.
func uuidBytes(id string) ([16]byte, bool) {
	var u [16]byte
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return u, false
	}
	hexDigits := id[0:8] + id[9:13] + id[14:18] + id[19:23] + id[24:36]
	if strings.ToLower(hexDigits) != hexDigits {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(hexDigits)); err != nil {
		return u, false
	}
	return u, true
}

func uuidString(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func gzipBytes(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func gunzip(blob []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func gzipLines(lines []string) ([]byte, error) { return gzipBytes([]byte(strings.Join(lines, "\n"))) }

func gunzipLines(blob []byte) ([]string, error) {
	raw, err := gunzip(blob)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	return strings.Split(string(raw), "\n"), nil
}

type rollupCursor struct {
	PK    string `dynamodbav:"pk"`
	SK    string `dynamodbav:"sk"`
	Type  string `dynamodbav:"type"`
	Day   string `dynamodbav:"day"`   // the day being closed
	After string `dynamodbav:"after"` // the last tenant whose rollup of Day is written
}

// CloseDays rolls up closed days for every tenant, from where the previous run stopped, until
// every day that has ended everywhere is done or stop says so. The first run ever starts 31
// days back. It reports how many tenant-days it rolled up and whether it is done.
func (s *Store) CloseDays(ctx context.Context, stop func() bool) (int, bool, error) {
	const op = "close days"
	lastClosable := s.now().UTC().Add(-closeAfter).AddDate(0, 0, -1).Format(time.DateOnly)
	var cur rollupCursor
	found, err := s.get(ctx, op, cleanupPK(), rollupCursorSK(), true, &cur)
	if err != nil {
		return 0, false, err
	}
	if !found {
		cur = rollupCursor{Day: s.now().UTC().Add(-closeAfter).AddDate(0, 0, -31).Format(time.DateOnly)}
	}
	done := 0
	for cur.Day <= lastClosable {
		tenants, err := s.tenantsAfter(ctx, op, cur.After)
		if err != nil {
			return done, false, err
		}
		for _, t := range tenants {
			if stop() {
				return done, false, s.saveRollupCursor(ctx, op, cur)
			}
			if err := s.RollUpDay(ctx, t, cur.Day); err != nil {
				return done, false, err
			}
			cur.After = t
			done++
		}
		next, _ := time.Parse(time.DateOnly, cur.Day)
		cur = rollupCursor{Day: next.AddDate(0, 0, 1).Format(time.DateOnly)}
		if err := s.saveRollupCursor(ctx, op, cur); err != nil {
			return done, false, err
		}
	}
	return done, true, nil
}

func (s *Store) saveRollupCursor(ctx context.Context, op string, cur rollupCursor) error {
	cur.PK, cur.SK, cur.Type = cleanupPK(), rollupCursorSK(), "cursor"
	item, err := attributevalue.MarshalMap(cur)
	if err != nil {
		return fail(op, err)
	}
	return s.putItem(ctx, op, &dynamodb.PutItemInput{Item: item})
}

// tenantsAfter returns the registered tenants after the one named (all for "").
func (s *Store) tenantsAfter(ctx context.Context, op, after string) ([]string, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(registryPK()))
	if after != "" {
		kc = kc.And(expression.Key(attrSK).GreaterThan(expression.Value(registrySK(after))))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var out []string
	err = s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		for _, it := range page {
			if sk, ok := it[attrSK].(*types.AttributeValueMemberS); ok {
				out = append(out, sk.Value)
			}
		}
		return true, nil
	})
	return out, err
}
