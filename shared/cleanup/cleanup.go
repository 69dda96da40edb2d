// Package cleanup ends sessions whose idle timeout or absolute lifetime has passed, on a
// schedule, snapshots the active lists read lately (store.TakeActiveSnapshots), and rolls up the
// active users of days that have ended (store.CloseDays). Reads never wait for it (an expired session counts as ended on every read); it
// records the end (status, reason, time), takes sessions out of the indexes, and starts their
// retention. Each run reads only the expiry buckets that passed since the last one.
package cleanup

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Defaults of a run.
const (
	// DefaultMargin is how long before the Lambda deadline a run stops, leaving time to save
	// its cursor and log its summary.
	DefaultMargin = 3 * time.Second
	// DefaultLookBack is how far back the very first run starts (no cursor yet): one default
	// maximum lifetime. Sessions that expired before it are still shown as ended by every
	// read, and TTL removes them after the retention.
	DefaultLookBack = 24 * time.Hour
)

// Cleaner runs cleanups.
type Cleaner struct {
	Store    *store.Store
	Now      pulse.Clock
	Metrics  io.Writer // where the summary's embedded-metric-format line goes (stdout in Lambda)
	Function string    // dimension of the metrics
	Margin   time.Duration
	LookBack time.Duration

	// Test hooks: called before a session's end is written, and after each session ended.
	BeforeEnd func(*pulse.Session)
	AfterEnd  func(ended int)
}

// Summary is what a run did. Remaining counts expired sessions it found but left for the next
// run (it stopped for the deadline); Complete is false whenever it stopped early.
type Summary struct {
	Examined    int   `json:"examined"`
	Ended       int   `json:"ended"`
	Remaining   int   `json:"remaining"`
	Buckets     int   `json:"buckets"`
	DaysClosed  int   `json:"days_closed"`  // tenant-days rolled up for the engagement API
	UsersErased int   `json:"users_erased"` // erasures finished (tombstones removed)
	Snapshots   int   `json:"snapshots"`    // active lists snapshotted (store.TakeActiveSnapshots)
	Complete    bool  `json:"complete"`
	DurationMS  int64 `json:"duration_ms"`
}

// MaxPerRun bounds the sessions one run reads (about 1 KB each in memory): after an outage,
// runs catch up this many at a time.
const MaxPerRun = 20000

// Run ends the sessions that expired since the last run. It first reads the expiring sessions
// of every bucket since its cursor (up to MaxPerRun), then ends them bucket by bucket, moving
// the cursor past each bucket it finishes. It stops early when ctx is cancelled or its deadline
// is within the margin; the next run picks up where it stopped. Two runs at once, or a run
// repeated, are safe: every end is a conditional write, and an ended session has left the index.
func (c *Cleaner) Run(ctx context.Context) (sum Summary, err error) {
	started := time.Now()
	sum.Complete = true
	defer func() { // on every return: the summary's duration, and its log line
		sum.DurationMS = time.Since(started).Milliseconds()
		c.report(sum)
	}()
	margin, lookBack := c.Margin, c.LookBack
	if margin == 0 {
		margin = DefaultMargin
	}
	if lookBack == 0 {
		lookBack = DefaultLookBack
	}
	stop := func() bool {
		if ctx.Err() != nil {
			return true
		}
		deadline, ok := ctx.Deadline()
		return ok && time.Until(deadline) < margin
	}
	now := c.Now()
	cursor, found, err := c.Store.CleanupCursor(ctx)
	if err != nil {
		sum.Complete = false
		return sum, err
	}
	var from *time.Time
	if found {
		from = &cursor
	} else {
		cursor = now.Add(-lookBack).Truncate(store.ExpiryBucket)
	}

	// Read: every bucket that has started, the current one included (its sessions that
	// already expired are ended now; the rest wait, and the cursor stays on it).
	type bucket struct {
		start   time.Time
		expired []*pulse.Session
	}
	var buckets []bucket
	read := 0
	for b := cursor; !b.After(now); b = b.Add(store.ExpiryBucket) {
		if stop() || read >= MaxPerRun {
			sum.Complete = false
			break
		}
		sessions, err := c.Store.ExpiringSessions(ctx, b)
		if err != nil {
			sum.Complete = false
			return sum, err
		}
		read += len(sessions)
		bk := bucket{start: b}
		for _, s := range sessions {
			if !s.Live(now) {
				bk.expired = append(bk.expired, s)
			}
		}
		buckets = append(buckets, bk)
	}
	sum.Buckets = len(buckets)
	for _, bk := range buckets {
		sum.Remaining += len(bk.expired)
	}

	// End them, bucket by bucket.
	for _, bk := range buckets {
		for _, s := range bk.expired {
			if stop() {
				sum.Complete = false
				return sum, nil
			}
			sum.Examined++
			if c.BeforeEnd != nil {
				c.BeforeEnd(s)
			}
			ended, err := c.Store.EndExpired(ctx, s, now)
			if err != nil {
				sum.Complete = false
				return sum, err
			}
			sum.Remaining-- // ended now, or by another run, or kept alive by activity
			if ended {
				sum.Ended++
				if c.AfterEnd != nil {
					c.AfterEnd(sum.Ended)
				}
			}
		}
		next := bk.start.Add(store.ExpiryBucket)
		if next.After(now) {
			break // the current bucket is never done: sessions may still expire in it
		}
		switch err := c.Store.AdvanceCleanupCursor(ctx, from, next); pulse.ErrorCode(err) {
		case "":
			from = &next
		case pulse.ECONFLICT:
			// Another run got here first: carry on from where it left the cursor.
			from = nil
			if cur, ok, err := c.Store.CleanupCursor(ctx); err == nil && ok {
				from = &cur
			}
		default:
			sum.Complete = false
			return sum, err
		}
	}
	// Then the snapshots of the active lists read lately, before the rollups: a list pages its
	// snapshot only while it is recent, and the rollups of a run that stops early wait safely.
	if stop() {
		sum.Complete = false
		return sum, nil
	}
	snaps, done, err := c.Store.TakeActiveSnapshots(ctx, stop)
	sum.Snapshots = snaps
	if err != nil || !done {
		sum.Complete = false
		return sum, err
	}
	// Then the daily rollups of active users, for the days that have ended everywhere.
	if stop() {
		sum.Complete = false
		return sum, nil
	}
	days, done, err := c.Store.CloseDays(ctx, stop)
	sum.DaysClosed = days
	if err != nil || !done {
		sum.Complete = false
		return sum, err
	}
	// And the erasures of users that a request could not finish, or whose grace has passed.
	erased, done, err := c.Store.SweepErased(ctx, stop)
	sum.UsersErased = erased
	if err != nil || !done {
		sum.Complete = false
	}
	return sum, err
}

// report writes one JSON line that is both the run's summary log and a CloudWatch embedded
// metric format record (Lambda passes JSON lines on stdout through unchanged).
func (c *Cleaner) report(sum Summary) {
	if c.Metrics == nil {
		return
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "Pulse",
				"Dimensions": [][]string{{"function"}},
				"Metrics": []map[string]string{
					{"Name": "examined", "Unit": "Count"}, {"Name": "ended", "Unit": "Count"},
					{"Name": "remaining", "Unit": "Count"}, {"Name": "duration_ms", "Unit": "Milliseconds"},
				},
			}},
		},
		"level": "INFO", "msg": "cleanup run", "function": c.Function,
		"examined": sum.Examined, "ended": sum.Ended, "remaining": sum.Remaining,
		"buckets": sum.Buckets, "days_closed": sum.DaysClosed, "users_erased": sum.UsersErased, "snapshots": sum.Snapshots, "complete": sum.Complete, "duration_ms": sum.DurationMS,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	_, _ = c.Metrics.Write(append(b, '\n'))
}
