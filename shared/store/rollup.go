package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// A closed day's active users are kept as a rollup: the sorted user IDs, newline-separated,
// gzip-compressed, in chunks of at most rollupChunk bytes before compression (an item holds at
// most 400 KB). Reading 30 days of 5,000 users then costs the rollups' compressed bytes (a few KB
// a day for short IDs) instead of 150,000 index entries of about 80 bytes each. Days not yet
// rolled up (today, and a day or so after it ends) are read from the Days index.
const rollupChunk = 300 << 10

// closeAfter is how long after midnight UTC the scheduled rollup closes the day before: every
// time zone's day has ended by then (UTC−12 ends 12 hours later), with 10 minutes of grace for
// requests in flight.
const closeAfter = 12*time.Hour + 10*time.Minute

type rollupItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	Type   string `dynamodbav:"type"`
	Tenant string `dynamodbav:"tenant"`
	Day    string `dynamodbav:"day"`
	Chunk  int    `dynamodbav:"chunk"`
	Chunks int    `dynamodbav:"chunks"`
	N      int    `dynamodbav:"n"`
	Users  []byte `dynamodbav:"users"`
	TTL    int64  `dynamodbav:"ttl"`
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
// without activity).
func (s *Store) rollups(ctx context.Context, op, tenant, lo, hi string) (map[string][]string, error) {
	out := map[string][]string{}
	chunks := map[string]int{}
	want := map[string]int{}
	err := s.rollupChunks(ctx, op, tenant, lo, hi, false, func(it rollupItem, users []string) error {
		out[it.Day] = append(out[it.Day], users...)
		chunks[it.Day]++
		want[it.Day] = it.Chunks
		return nil
	})
	if err != nil {
		return nil, err
	}
	for d, n := range chunks {
		if n != want[d] { // a rollup being rewritten: read that day from the index
			delete(out, d)
		}
	}
	return out, nil
}

// rollupChunks hands each chunk of the rollups of days lo..hi (one month) to each, with its
// users decompressed.
func (s *Store) rollupChunks(ctx context.Context, op, tenant, lo, hi string, consistent bool, each func(rollupItem, []string) error) error {
	kc := expression.Key(attrPK).Equal(expression.Value(rollupPK(tenant, lo[:7]))).
		And(expression.Key(attrSK).Between(expression.Value(lo), expression.Value(hi+"$")))
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
			users, err := gunzipLines(it.Users)
			if err != nil {
				return false, err
			}
			if err := each(it, users); err != nil {
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

// RollUp writes the rollups of a tenant's closed days among days (after importing history).
func (s *Store) RollUp(ctx context.Context, tenant string, days []string) error {
	closed := s.now().UTC().Add(-closeAfter).AddDate(0, 0, -1).Format(time.DateOnly)
	for _, d := range days {
		if d <= closed {
			if err := s.RollUpDay(ctx, tenant, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// RollUpDay writes the rollup of one of a tenant's days from the Days index, replacing any.
// Run on closed days only: activity recorded later would be missing from it.
func (s *Store) RollUpDay(ctx context.Context, tenant, day string) error {
	const op = "roll up day"
	users, err := s.daysFromIndex(ctx, op, tenant, day[:7], day, day)
	if err != nil {
		return err
	}
	var chunks [][]string
	var cur []string
	size := 0
	for _, u := range users[day] {
		if size+len(u)+1 > rollupChunk && len(cur) > 0 {
			chunks, cur, size = append(chunks, cur), nil, 0
		}
		cur = append(cur, u)
		size += len(u) + 1
	}
	chunks = append(chunks, cur)
	var reqs []types.WriteRequest
	for i, c := range chunks {
		blob, err := gzipLines(c)
		if err != nil {
			return fail(op, err)
		}
		item, err := attributevalue.MarshalMap(rollupItem{PK: rollupPK(tenant, day[:7]), SK: rollupSK(day, i), Type: "rollup",
			Tenant: tenant, Day: day, Chunk: i, Chunks: len(chunks), N: len(c), Users: blob,
			TTL: s.now().Add(24*time.Hour + s.policy.ActivityKeep).Unix()})
		if err != nil {
			return fail(op, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, op, reqs)
}

func gzipLines(lines []string) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(zw, strings.Join(lines, "\n")); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func gunzipLines(blob []byte) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, nil
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
