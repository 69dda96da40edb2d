package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// A tenant's activity counters, per day of its time zone: the users active that day (DAU) by
// how long before it they were last active, the users created that day, and the users active
// in each hour and 2-hour group of it. They are kept as activity arrives, so that a range of
// days costs its days, never its users × days.
//
// Distinct users are counted once by remembering, on the user, the days (adays) and the last
// hour (ahour) already counted: a user's first activity of a day adds 1 to that day's DAU and
// to its gap bucket (pNN: last active NN days before, 1–29; p30: 30 or more, or never); the
// first activity of an hour adds to that hour. WAU and MAU follow at read time: a user counts
// in the WAU of day x when active on some day of [x-6, x], and the earliest such day d is the
// one whose gap reaches back past x-7, so WAU(x) = Σ_{k=0..6} (users of day x-k with a gap of
// at least 7-k), and MAU likewise over 30 days. So each active user-day writes one counter
// item, whatever the user's history, and a range reads its days plus the 29 before. Each count
// is one transaction with the user's update, conditioned on the user's counter version, so
// that a count happens exactly once.

// DayStats are a tenant's counters for one day.
type DayStats struct {
	Day           string // YYYY-MM-DD in the tenant's time zone
	DAU, WAU, MAU int
	New           int     // users created that day
	Hours         [24]int // users active in each hour
	Pairs         [12]int // users active in each 2-hour group (0–1, 2–3, …)
}

// DailyStats returns the tenant's counters for the days first to last (YYYY-MM-DD in zone),
// oldest first, one per day of the range, zeros included: one Query per shard, about 100 bytes
// a day. The range is clamped to the activity retention and to today, as DailyActiveUsers does.
func (s *Store) DailyStats(ctx context.Context, tenant, first, last string, zone *time.Location) ([]DayStats, error) {
	const op = "daily stats"
	first, last = s.clampDays(first, last, zone)
	if _, err := time.Parse(time.DateOnly, first); err != nil || first > last {
		return nil, nil
	}
	from := addDays(first, -(maxGap - 1)) // WAU and MAU look back 29 days
	parts := make([][]map[string]types.AttributeValue, statShards)
	g, gctx := errgroup.WithContext(ctx)
	for shard := range statShards {
		g.Go(func() error {
			kc := expression.Key(attrPK).Equal(expression.Value(statPK(tenant, shard))).
				And(expression.Key(attrSK).Between(expression.Value(from), expression.Value(last)))
			expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
			if err != nil {
				return fail(op, err)
			}
			return s.query(gctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			}, func(items []map[string]types.AttributeValue) (bool, error) {
				parts[shard] = append(parts[shard], items...)
				return true, nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	byDay := map[string]*DayStats{}
	gaps := map[string]*[maxGap + 1]int{} // day → users of the day by gap
	var all []DayStats
	for d := from; d <= last; d = addDays(d, 1) {
		all = append(all, DayStats{Day: d})
	}
	for i := range all {
		byDay[all[i].Day] = &all[i]
		gaps[all[i].Day] = &[maxGap + 1]int{}
	}
	for _, part := range parts {
		for _, it := range part {
			sk, _ := it[attrSK].(*types.AttributeValueMemberS)
			if sk == nil || byDay[sk.Value] == nil {
				continue
			}
			d := byDay[sk.Value]
			for name, v := range it {
				n, ok := v.(*types.AttributeValueMemberN)
				if !ok {
					continue
				}
				x, _ := strconv.Atoi(n.Value)
				num, err := strconv.Atoi(name[1:])
				switch {
				case name == "dau":
					d.DAU += x
				case name == "new":
					d.New += x
				case err != nil || len(name) != 3:
				case name[0] == 'p' && num >= 1 && num <= maxGap:
					gaps[d.Day][num] += x
				case name[0] == 'h' && num < 24:
					d.Hours[num] += x
				case name[0] == 'g' && num < 24:
					d.Pairs[num/2] += x
				}
			}
		}
	}
	out := all[maxGap-1:]
	for i := range out {
		x := maxGap - 1 + i // index of out[i] in all
		for k := range maxGap {
			day := gaps[all[x-k].Day]
			for g := 1; g <= maxGap; g++ {
				if g >= maxGap-k {
					out[i].MAU += day[g]
				}
				if k < 7 && g >= 7-k {
					out[i].WAU += day[g]
				}
			}
		}
	}
	return out, nil
}

// addDays returns the calendar day n days after day (YYYY-MM-DD).
func addDays(day string, n int) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return "9999-12-31"
	}
	return t.AddDate(0, 0, n).Format(time.DateOnly)
}

// counts are additions to counter items: day → attribute → amount.
type counts map[string]map[string]int

func (c counts) add(day, attr string, n int) {
	if c[day] == nil {
		c[day] = map[string]int{}
	}
	c[day][attr] += n
}

// coverDay adds a user's activity on day, given the user's nearest active days before (prev)
// and after (next) it, "" for none: DAU and the gap bucket of day and, when the day goes in
// before next (a history loaded out of order), next's gap moved from prev to day.
func (c counts) coverDay(day, prev, next string) {
	c.add(day, "dau", 1)
	c.add(day, gapAttr(prev, day), 1)
	if next != "" {
		c.add(next, gapAttr(prev, next), -1)
		c.add(next, gapAttr(day, next), 1)
	}
}

// maxGap is the gap bucket that holds "30 days or more, or never": MAU's window.
const maxGap = 30

// gapAttr names the gap bucket of activity on day after activity on prev ("" for never).
func gapAttr(prev, day string) string {
	g := maxGap
	if prev != "" {
		p, _ := time.Parse(time.DateOnly, prev)
		d, _ := time.Parse(time.DateOnly, day)
		g = min(int(d.Sub(p).Hours()/24+0.5), maxGap)
	}
	return fmt.Sprintf("p%02d", g)
}

// coverHours adds the hours of hours (labels YYYY-MM-DDTHH, ascending, each new for the user)
// and their 2-hour groups, after the user's last counted hour last ("" for none).
func (c counts) coverHours(last string, hours []string) {
	for _, h := range hours {
		day, hh := h[:10], h[11:13]
		n, _ := strconv.Atoi(hh)
		c.add(day, "h"+hh, 1)
		if last == "" || last[:10] != day || atoi(last[11:13])/2 != n/2 {
			c.add(day, fmt.Sprintf("g%02d", n/2*2), 1)
		}
		last = h
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// hourLabel is the hour of t in zone, as YYYY-MM-DDTHH.
func hourLabel(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format("2006-01-02T15")
}

// hoursBetween lists the hour labels (in zone) after the hour of from up to the hour of to, at
// most 48. It steps by 15 minutes: zones whose offset is not whole hours have hours that do not
// begin on UTC's.
func hoursBetween(from, to time.Time, zone *time.Location) []string {
	var out []string
	last := hourLabel(from, zone)
	for t := from; len(out) < 48; t = t.Add(15 * time.Minute) {
		if t.After(to) {
			t = to
		}
		if h := hourLabel(t, zone); h > last {
			out, last = append(out, h), h
		}
		if !t.Before(to) {
			break
		}
	}
	return out
}

// statUpdates turns counts into transaction items on the user's shard of each day.
func (s *Store) statUpdates(tenant, user string, c counts) ([]types.TransactWriteItem, error) {
	days := make([]string, 0, len(c))
	for d := range c {
		days = append(days, d)
	}
	slices.Sort(days)
	var items []types.TransactWriteItem
	for _, d := range days {
		in, err := s.statUpdate(tenant, statShardOf(user), d, c[d])
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Update: &types.Update{Key: in.Key, UpdateExpression: in.UpdateExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues}})
	}
	return items, nil
}

// statUpdate adds attrs to one counter item, which keeps its TTL from its first write: the
// activity retention and the 29 days before it that WAU and MAU of its first days look back on.
func (s *Store) statUpdate(tenant string, shard int, day string, attrs map[string]int) (*dynamodb.UpdateItemInput, error) {
	t, _ := time.Parse(time.DateOnly, day)
	keep := 48*time.Hour + s.policy.ActivityKeep + maxGap*24*time.Hour
	upd := expression.Set(expression.Name(attrTTL), expression.IfNotExists(expression.Name(attrTTL), expression.Value(t.Add(keep).Unix())))
	names := make([]string, 0, len(attrs))
	for a := range attrs {
		names = append(names, a)
	}
	slices.Sort(names)
	for _, a := range names {
		upd = upd.Add(expression.Name(a), expression.Value(attrs[a]))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemInput{Key: key(statPK(tenant, shard), statSK(day)), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}, nil
}

// statShardOf is the counter shard a user's counts go to.
func statShardOf(user string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	return int(h.Sum32() % statShards)
}

// countActivity counts a user's activity up to now: the day of now (unless counted) and the
// hours after since (the previous activity of the session, or the session's start just before
// it) up to now (those after the user's last counted hour). It runs on a session's first
// activity of a new hour or day, and when a login is retried (a login counts in its own
// transaction): a steady heartbeat never gets here.
func (s *Store) countActivity(ctx context.Context, tenant, user string, since, now time.Time, zone *time.Location) error {
	const op = "count activity"
	for range 5 {
		var u userItem
		found, err := s.get(ctx, op, userPK(tenant, user), userSK(), true, &u)
		if err != nil {
			return err
		}
		if !found || u.Erased != 0 {
			return nil // nothing to count for a user being erased
		}
		upd, cond, c := counting(&u, expression.UpdateBuilder{}, expression.AttributeNotExists(expression.Name("erased")), since, now, zone)
		if len(c) == 0 {
			return nil
		}
		expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
		if err != nil {
			return fail(op, err)
		}
		stats, err := s.statUpdates(tenant, user, c)
		if err != nil {
			return fail(op, err)
		}
		items := append([]types.TransactWriteItem{{Update: &types.Update{Key: key(userPK(tenant, user), userSK()),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}}}, stats...)
		err = s.transact(ctx, op, items...)
		if conflicted(err) {
			continue // another session of the user counted meanwhile, or a racing count: read again
		}
		return err
	}
	return fail(op, fmt.Errorf("the user's counters kept changing: gave up after 5 rounds"))
}

// counting adds to the update of user u what counting its activity from since to now changes
// (the days and last hour counted, the counter version), and to cond that nobody counted
// meanwhile; it returns what goes to the counter items, empty when there is nothing to count.
// countActivity and a login (in its own transaction) count with it.
func counting(u *userItem, upd expression.UpdateBuilder, cond expression.ConditionBuilder, since, now time.Time, zone *time.Location) (expression.UpdateBuilder, expression.ConditionBuilder, counts) {
	day := dayOf(now, zone)
	c := counts{}
	upd = upd.Set(expression.Name("aver"), expression.Value(u.AVer+1))
	if u.ADays[day] == 0 {
		prev, next := "", ""
		for d := range u.ADays {
			if d < day && d > prev {
				prev = d
			}
			if d > day && (next == "" || d < next) {
				next = d
			}
		}
		c.coverDay(day, prev, next)
		if u.ADays == nil {
			upd = upd.Set(expression.Name("adays"), expression.Value(map[string]int{day: 1}))
			cond = cond.And(expression.AttributeNotExists(expression.Name("adays")))
		} else {
			upd = upd.Set(expression.Name("adays."+day), expression.Value(1))
			// Only the last 30 days decide what a new day covers.
			for d := range u.ADays {
				if d < addDays(day, -31) {
					upd = upd.Remove(expression.Name("adays." + d))
				}
			}
		}
	}
	var hours []string
	for _, h := range hoursBetween(since, now, zone) {
		if h > u.AHour {
			hours = append(hours, h)
		}
	}
	if hh := hourLabel(now, zone); hh > u.AHour && !slices.Contains(hours, hh) {
		hours = append(hours, hh)
	}
	if len(hours) > 0 {
		c.coverHours(u.AHour, hours)
		upd = upd.Set(expression.Name("ahour"), expression.Value(hours[len(hours)-1]))
	}
	if u.AVer == 0 {
		cond = cond.And(expression.AttributeNotExists(expression.Name("aver")))
	} else {
		cond = cond.And(expression.Name("aver").Equal(expression.Value(u.AVer)))
	}
	return upd, cond, c
}

// loadStats adds the counts of a load of history (Import, RecordDays): per user, the days and
// hours active, which the load assumes are the user's only ones. One UpdateItem per counter
// item touched, however many users.
func (s *Store) loadStats(ctx context.Context, tenant string, days map[string][]string, hours map[string][]string, created map[string]string) error {
	const op = "load stats"
	perShard := make([]counts, statShards)
	for i := range perShard {
		perShard[i] = counts{}
	}
	for user, ds := range days {
		ds = slices.Compact(slices.Sorted(slices.Values(ds)))
		for i, d := range ds {
			prev := ""
			if i > 0 {
				prev = ds[i-1]
			}
			perShard[statShardOf(user)].coverDay(d, prev, "")
		}
	}
	for user, hs := range hours {
		hs = slices.Compact(slices.Sorted(slices.Values(hs)))
		perShard[statShardOf(user)].coverHours("", hs)
	}
	for user, d := range created {
		perShard[statShardOf(user)].add(d, "new", 1)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readFanOut)
	for shard, c := range perShard {
		for day, attrs := range c {
			in, err := s.statUpdate(tenant, shard, day, attrs)
			if err != nil {
				return fail(op, err)
			}
			g.Go(func() error {
				_, err := s.updateItem(gctx, op, in)
				return err
			})
		}
	}
	return g.Wait()
}

// LoadCounters adds the counts of a load of history to the tenant's activity counters only: per
// user, the days (YYYY-MM-DD) and hours (YYYY-MM-DDTHH) active, taken as the users' only ones,
// and the day each was created. For a history whose per-user days live elsewhere, and for the
// benchmarks; LoadHistory also writes the per-user days.
func (s *Store) LoadCounters(ctx context.Context, tenant string, days, hours map[string][]string, created map[string]string) error {
	return s.loadStats(ctx, tenant, days, hours, created)
}

// countNew is the transaction item that counts a user created at t.
func (s *Store) countNew(tenant, user string, t time.Time, zone *time.Location) (types.TransactWriteItem, error) {
	in, err := s.statUpdate(tenant, statShardOf(user), dayOf(t, zone), map[string]int{"new": 1})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{Key: in.Key, UpdateExpression: in.UpdateExpression,
		ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues}}, nil
}
