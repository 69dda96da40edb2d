package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// Pages sorted by start are found by day from the user's start counters, pages of ended or all
// sessions sorted by last activity from the EndedLast index (merged with the live ones), by
// session ID from the sessions' own keys: every
// page of every status, in both directions, with and without a client filter, must be the slice
// of the whole list a model sorts, and the totals the model's counts, across day boundaries,
// beside sessions past the retention horizon, with ties in either order.
func TestSessionPagesMatchTheModel(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	s := newStore(t, c)
	now := c.Now()
	p := s.Policy()
	var sessions []*pulse.Session
	add := func(id string, init time.Time, live bool) {
		ss := &pulse.Session{TenantID: "acme", UserID: "alice", ID: id, Key: strings.Repeat("A", 64), ClientIDs: []string{"web"},
			InitiatedAt: init, LastActivity: init, ExpiresAt: init.Add(p.IdleTimeout), HardExpires: init.Add(p.MaxLifetime)}
		if live {
			ss.LastActivity, ss.ExpiresAt = now, now.Add(p.IdleTimeout)
		} else {
			ss.EndReason, ss.EndedAt = pulse.EndRevoked, init.Add(time.Minute)
		}
		sessions = append(sessions, ss)
	}
	// 12 days of history, unevenly spread (0 to 40 a day, some days empty), the last hours live.
	for d := range 12 {
		for i := range (d * 7) % 41 {
			init := now.AddDate(0, 0, -d).Add(-time.Duration(i*23) * time.Minute)
			add(fmt.Sprintf("d%02d-%02d", d, i), init, d == 0 && i < 9)
		}
	}
	// Two sessions at the same millisecond (ties broken by ID), and three past the horizon.
	add("tie-a", now.Add(-50*time.Hour), false)
	add("tie-b", now.Add(-50*time.Hour), false)
	for i := range 3 {
		add(fmt.Sprintf("old-%d", i), now.Add(-p.Retention-48*time.Hour-time.Duration(i)*time.Hour), false)
	}
	// Sessions whose last activity is in another order than their start: long ones (some started
	// before the horizon and last active after it: not listed), some on another client, some
	// ending at the same millisecond as a short one.
	for i := range 30 {
		init := now.Add(-time.Duration(i*11+3) * time.Hour)
		if i%10 == 9 {
			init = now.Add(-p.Retention - time.Duration(i)*time.Hour)
		}
		add(fmt.Sprintf("long-%02d", i), init, false)
		ss := sessions[len(sessions)-1]
		ss.LastActivity = init.Add(time.Duration((i*37)%50) * time.Hour)
		if i%6 == 0 {
			ss.LastActivity = sessions[(i*5)%40].LastActivity
		}
		ss.EndedAt, ss.ExpiresAt = ss.LastActivity.Add(time.Minute), ss.LastActivity.Add(p.IdleTimeout)
		if i%3 == 0 {
			ss.ClientIDs = []string{"ios"}
		}
	}
	// Live sessions, started within the last hours, last active within minutes (one at the
	// same millisecond as another).
	for i := range 6 {
		add(fmt.Sprintf("live-%d", i), now.Add(-time.Duration(i*25+1)*time.Minute), true)
		ss := sessions[len(sessions)-1]
		ss.LastActivity = now.Add(-time.Duration(i%4) * time.Minute)
		ss.ExpiresAt = ss.LastActivity.Add(p.IdleTimeout)
		if i%2 == 1 {
			ss.ClientIDs = []string{"ios", "web"}
		}
	}
	login := func() {
		t.Helper()
		ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "alice", ClientID: "web", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ss)
		c.Add(time.Second)
	}
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		t.Helper()
		now := c.Now()
		// What the scheduled cleanup does every few minutes: end the sessions that expired.
		for i, ss := range sessions {
			if ss.EndReason == "" && !ss.Live(now) {
				if _, err := s.EndExpired(ctx, ss, now); err != nil {
					t.Fatal(err)
				}
				got, err := s.GetSession(ctx, "acme", "alice", ss.ID)
				if err != nil {
					t.Fatal(err)
				}
				sessions[i] = got
			}
		}
		first := now.Add(-p.Retention).UTC().Truncate(24 * time.Hour)
		for _, l := range []struct{ status, sort, client string }{{"all", "initiated_at", ""}, {pulse.StatusEnded, "initiated_at", ""},
			{pulse.StatusActive, "initiated_at", ""}, {"all", "last_updated", ""}, {pulse.StatusEnded, "last_updated", ""},
			{"all", "last_updated", "ios"}, {pulse.StatusEnded, "last_updated", "web"},
			{"all", "session_id", ""}, {pulse.StatusEnded, "session_id", ""}, {"all", "session_id", "ios"},
			{pulse.StatusActive, "session_id", ""}, {pulse.StatusEnded, "session_id", "web"}, {pulse.StatusActive, "session_id", "ios"},
			{"all", "initiated_at", "ios"}, {pulse.StatusEnded, "initiated_at", "web"}, {pulse.StatusActive, "initiated_at", "ios"},
			{"all", "initiated_at", "android"}, {pulse.StatusEnded, "last_updated", "android"},
			{"all", "expires_at", ""}, {pulse.StatusEnded, "expires_at", ""}, {"all", "expires_at", "ios"}, {pulse.StatusEnded, "expires_at", "web"}} {
			status := l.status
			var want []string
			for _, ss := range sessions {
				st, _, _ := ss.State(now)
				if !ss.InitiatedAt.Before(first) && (status == "all" || st == status) && (l.client == "" || slices.Contains(ss.ClientIDs, l.client)) {
					want = append(want, ss.ID)
				}
			}
			byStart := func(a, b string) int {
				ia := slices.IndexFunc(sessions, func(ss *pulse.Session) bool { return ss.ID == a })
				ib := slices.IndexFunc(sessions, func(ss *pulse.Session) bool { return ss.ID == b })
				c := sessions[ia].InitiatedAt.Compare(sessions[ib].InitiatedAt)
				switch l.sort {
				case "last_updated":
					c = sessions[ia].LastActivity.Compare(sessions[ib].LastActivity)
				case "expires_at":
					c = sessions[ia].ExpiresAt.Compare(sessions[ib].ExpiresAt)
				case "session_id":
					c = 0 // the ID decides
				}
				if c != 0 {
					return c
				}
				return strings.Compare(a, b)
			}
			slices.SortFunc(want, byStart)
			for _, desc := range []bool{false, true} {
				model := slices.Clone(want)
				if desc {
					slices.Reverse(model)
				}
				for _, size := range []int{7, 25} {
					for offset := 0; offset <= len(model)+size; offset += size {
						got, err := s.SessionsPage(ctx, "acme", "alice", store.SessionQuery{Status: status, Sort: l.sort, ClientID: l.client, Desc: desc, Offset: offset, Limit: size})
						if err != nil {
							t.Fatal(err)
						}
						var ids []string
						for _, ss := range got.Sessions {
							ids = append(ids, ss.ID)
						}
						exp := model[min(offset, len(model)):min(offset+size, len(model))]
						if got.Total != len(model) || !slices.Equal(ids, exp) {
							t.Fatalf("%+v desc=%v offset %d size %d: total %d %v, want %d %v", l, desc, offset, size, got.Total, ids, len(model), exp)
						}
					}
				}
			}
		}
	}
	t.Run("imported", check)

	// Logins add to the counters; a revoke moves a session from active to ended.
	for range 3 {
		c.Add(7 * time.Hour)
		ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "alice", ClientID: "web", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ss)
	}
	if err := s.RevokeSession(ctx, "acme", "alice", sessions[len(sessions)-1].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSession(ctx, "acme", "alice", sessions[len(sessions)-1].ID)
	if err != nil {
		t.Fatal(err)
	}
	sessions[len(sessions)-1] = got
	login()
	login()
	// Heartbeats bring clients new to live sessions, counted once each however many bring the
	// same one at once; one of those sessions then ends.
	joined := -1
	for i, ss := range sessions {
		if !ss.Live(c.Now()) || i%2 == 0 {
			continue
		}
		for _, client := range []string{"ios", "android"} {
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "alice", SessionID: ss.ID, ClientID: client}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		if sessions[i], err = s.GetSession(ctx, "acme", "alice", ss.ID); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(sessions[i].ClientIDs, "android") {
			t.Fatalf("%s: clients %v after the heartbeats", ss.ID, sessions[i].ClientIDs)
		}
		joined = i
	}
	if joined < 0 {
		t.Fatal("no live session took the heartbeats")
	}
	if err := s.RevokeSession(ctx, "acme", "alice", sessions[joined].ID); err != nil {
		t.Fatal(err)
	}
	if sessions[joined], err = s.GetSession(ctx, "acme", "alice", sessions[joined].ID); err != nil {
		t.Fatal(err)
	}
	t.Run("after logins", check)

	// Days later the oldest days have left the horizon: the totals drop with them.
	c.Add(5 * 24 * time.Hour)
	login()
	t.Run("days later", check)
}

// A user from before the EndedLast and EndedExp indexes: their ends are not in them, so the lists
// by last activity and by expiry read them whole (and are right) until every session that ended
// before the user was first seen by this version has left the list; their first login marks
// when that was (ixs and exs), and ends from then on enter the indexes.
func TestListByLastOfAnOlderUser(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: c.Now})
	p := s.Policy()
	now := c.Now()
	var sessions []*pulse.Session
	for i := range 20 {
		init := now.Add(-time.Duration(i*5+1) * time.Hour)
		ss := &pulse.Session{TenantID: "acme", UserID: "alice", ID: fmt.Sprintf("s%02d", i), Key: strings.Repeat("A", 64), ClientIDs: []string{"web"},
			InitiatedAt: init, LastActivity: init.Add(time.Duration(i%7) * time.Hour), HardExpires: init.Add(p.MaxLifetime)}
		ss.ExpiresAt = ss.LastActivity.Add(p.IdleTimeout)
		ss.EndReason, ss.EndedAt = pulse.EndRevoked, ss.LastActivity
		sessions = append(sessions, ss)
	}
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	// What an earlier version wrote: no ixs on the user, no ended_last on an ended session.
	userKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#U#alice"}, "sk": &types.AttributeValueMemberS{Value: "USER"}}
	forget := func(key map[string]types.AttributeValue, attr string) {
		t.Helper()
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: key, UpdateExpression: aws.String("REMOVE " + attr)}); err != nil {
			t.Fatal(err)
		}
	}
	forget(userKey, "ixs")
	forget(userKey, "exs")
	forget(userKey, "cstarts")
	for _, ss := range sessions {
		forget(map[string]types.AttributeValue{"pk": userKey["pk"], "sk": &types.AttributeValueMemberS{Value: "S#" + ss.ID}}, "ended_last")
		forget(map[string]types.AttributeValue{"pk": userKey["pk"], "sk": &types.AttributeValueMemberS{Value: "S#" + ss.ID}}, "ended_exp")
	}
	check := func(t *testing.T, want int) {
		t.Helper()
		now := c.Now()
		first := now.Add(-p.Retention).UTC().Truncate(24 * time.Hour)
		var model []*pulse.Session
		for _, ss := range sessions {
			if !ss.InitiatedAt.Before(first) {
				model = append(model, ss)
			}
		}
		if len(model) != want {
			t.Fatalf("the model lists %d sessions, want %d", len(model), want)
		}
		for _, sort := range []string{"last_updated", "expires_at"} {
			slices.SortFunc(model, func(a, b *pulse.Session) int {
				c := b.LastActivity.Compare(a.LastActivity)
				if sort == "expires_at" {
					c = b.ExpiresAt.Compare(a.ExpiresAt)
				}
				if c != 0 {
					return c
				}
				return strings.Compare(b.ID, a.ID)
			})
			for offset := 0; offset < len(model)+6; offset += 6 {
				got, err := s.SessionsPage(ctx, "acme", "alice", store.SessionQuery{Status: "all", Sort: sort, Desc: true, Offset: offset, Limit: 6})
				if err != nil {
					t.Fatal(err)
				}
				var ids, exp []string
				for _, ss := range got.Sessions {
					ids = append(ids, ss.ID)
				}
				for _, ss := range model[min(offset, len(model)):min(offset+6, len(model))] {
					exp = append(exp, ss.ID)
				}
				if got.Total != len(model) || !slices.Equal(ids, exp) {
					t.Fatalf("%s, offset %d: total %d %v, want %d %v", sort, offset, got.Total, ids, len(model), exp)
				}
			}
		}
		// Filtered by client, the total comes from the client counters only once they count
		// every listed session (before, from the index's keys).
		for _, status := range []string{"all", pulse.StatusEnded} {
			n := 0
			for _, ss := range model {
				if st, _, _ := ss.State(now); status == "all" || st == status {
					n++
				}
			}
			got, err := s.SessionsPage(ctx, "acme", "alice", store.SessionQuery{Status: status, Sort: "initiated_at", ClientID: "web", Limit: 6})
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != n || len(got.Sessions) != min(n, 6) {
				t.Errorf("%s, client_id=web: total %d, %d on the page; want %d, %d", status, got.Total, len(got.Sessions), n, min(n, 6))
			}
		}
	}
	t.Run("before any login", func(t *testing.T) { check(t, 20) })

	// The first login marks the user a day (indexMargin) past now; an end from then on enters the index.
	c.Add(time.Hour)
	ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "alice", ClientID: "web", IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: userKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{"ixs", "exs"} {
		if n, ok := out.Item[attr].(*types.AttributeValueMemberN); !ok || n.Value != fmt.Sprint(c.Now().Add(24*time.Hour).UnixMilli()) {
			t.Errorf("%s after the first login: %v, want a day from now", attr, out.Item[attr])
		}
	}
	c.Add(time.Minute)
	if err := s.RevokeSession(ctx, "acme", "alice", ss.ID); err != nil {
		t.Fatal(err)
	}
	if ss, err = s.GetSession(ctx, "acme", "alice", ss.ID); err != nil {
		t.Fatal(err)
	}
	sessions = append(sessions, ss)
	t.Run("after a login and a revoke", func(t *testing.T) { check(t, 21) })

	// Once the retention has passed the marked day, the index holds every listed end.
	c.Add(p.Retention + 48*time.Hour)
	for i := range 4 {
		ss, _, err := s.CreateSession(ctx, store.NewSession{TenantID: "acme", UserID: "alice", ClientID: "web", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Duration(i+1) * time.Minute)
		if i%2 == 0 {
			if err := s.RevokeSession(ctx, "acme", "alice", ss.ID); err != nil {
				t.Fatal(err)
			}
		}
		if ss, err = s.GetSession(ctx, "acme", "alice", ss.ID); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ss)
	}
	t.Run("after the retention", func(t *testing.T) { check(t, 4) })
}

// Imported history whose client counters would pass their bound starts without them, as a
// login's would start again (restartClientCounts): the lists filtered by client count the index's keys,
// and find what the counters would have.
func TestImportPastTheClientCounters(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: c.Now})
	now := c.Now()
	p := s.Policy()
	var sessions []*pulse.Session
	for i := range 300 {
		init := now.Add(-time.Duration(300-i) * time.Second)
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: "alice", ID: fmt.Sprintf("s%03d", i), Key: strings.Repeat("A", 64),
			ClientIDs: []string{fmt.Sprintf("client-%03d", i), "web"}, InitiatedAt: init, LastActivity: init,
			ExpiresAt: init.Add(p.IdleTimeout), HardExpires: init.Add(p.MaxLifetime), EndReason: pulse.EndRevoked, EndedAt: init.Add(time.Second)})
	}
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#acme#U#alice"}, "sk": &types.AttributeValueMemberS{Value: "USER"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, held := out.Item["cstarts"]; held || out.Item["cfrom"] == nil {
		t.Fatalf("301 client-days imported: counters held %t, started again %t; want none held, started again", held, out.Item["cfrom"] != nil)
	}
	// A longer retention allows more (four a day listed): the same history keeps its counters.
	p.Retention = 200 * 24 * time.Hour
	long := store.New(db, store.Options{Table: table, Now: c.Now, Policy: p})
	if err := long.Import(ctx, []pulse.User{{TenantID: "acme", ID: "bob", CreatedAt: now, UpdatedAt: now}}, retag(sessions, "bob"), time.UTC); err != nil {
		t.Fatal(err)
	}
	out, err = db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "T#acme#U#bob"}, "sk": &types.AttributeValueMemberS{Value: "USER"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := out.Item["cstarts"].(*types.AttributeValueMemberM); m == nil || len(m.Value) != 301 || out.Item["cfrom"] != nil {
		t.Fatalf("301 client-days imported with 200 days listed: counters %v, started again %t; want 301 held", m != nil, out.Item["cfrom"] != nil)
	}
	for _, q := range []struct {
		client string
		want   int
	}{{"client-007", 1}, {"client-299", 1}, {"web", 300}, {"other", 0}} {
		got, err := s.SessionsPage(ctx, "acme", "alice", store.SessionQuery{Status: "all", ClientID: q.client, Sort: "initiated_at", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != q.want || len(got.Sessions) != min(q.want, 10) {
			t.Errorf("client_id=%s: total %d, %d sessions; want %d", q.client, got.Total, len(got.Sessions), q.want)
		}
	}
}

// retag is sessions as user's.
func retag(sessions []*pulse.Session, user string) []*pulse.Session {
	out := make([]*pulse.Session, len(sessions))
	for i, ss := range sessions {
		c := *ss
		c.UserID = user
		out[i] = &c
	}
	return out
}

// The Active index is updated a moment after the table. A session the table already holds as
// ended (revoked, or idle past its expiry) while its entry still sits in the window is neither a
// row of the active list nor counted in its total: the list's read of the page decides, from
// the attributes it asks for (a list reads only what its rows show).
func TestActiveListReadDecidesWhenTheIndexLags(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: c.Now})
	p := pulse.DefaultSessionPolicy
	now := c.Now()
	var sessions []*pulse.Session
	for _, id := range []string{"live", "revoked", "idle"} {
		init, last := now.Add(-time.Hour), now.Add(-time.Minute)
		sessions = append(sessions, &pulse.Session{TenantID: "acme", UserID: "alice", ID: id, Key: "K", ClientIDs: []string{"web"},
			InitiatedAt: init, LastActivity: last, ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime)})
	}
	if err := s.Import(ctx, []pulse.User{{TenantID: "acme", ID: "alice", CreatedAt: now, UpdatedAt: now}}, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	page, err := s.ActiveSessions(ctx, "acme", 0, 10)
	if err != nil || page.Total != 3 || len(page.Sessions) != 3 {
		t.Fatalf("before: %+v, %v; want the 3 sessions", page, err)
	}
	// The table changes, the index entries stay where they are (apk untouched).
	set := func(id, update string, values map[string]types.AttributeValue) {
		t.Helper()
		k := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#U#alice"}, "sk": &types.AttributeValueMemberS{Value: "S#" + id}}
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: k, UpdateExpression: aws.String(update), ExpressionAttributeValues: values}); err != nil {
			t.Fatal(err)
		}
	}
	ms := func(t time.Time) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: fmt.Sprint(t.UnixMilli())}
	}
	set("revoked", "SET reason = :r, ended = :e", map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: pulse.EndRevoked}, ":e": ms(now)})
	set("idle", "SET exp = :x", map[string]types.AttributeValue{":x": ms(now.Add(-time.Second))})
	page, err = s.ActiveSessions(ctx, "acme", 0, 10)
	if err != nil || page.Total != 1 || len(page.Sessions) != 1 || page.Sessions[0].ID != "live" {
		t.Fatalf("after: %+v, %v; want the live session alone", page, err)
	}
}

// A heartbeat bringing a new client to a user whose counters an earlier version never wrote is
// refused by the user's condition once; the refused item says what the counters are, so the
// round that writes them goes at once, without the pause of a round that met another writer.
func TestNewClientOnOldCountersDoesNotPause(t *testing.T) {
	ctx := context.Background()
	c := newClock(start)
	db, table := ddbtest.New(t)
	s := store.New(db, store.Options{Table: table, Now: c.Now})
	if _, _, err := s.CreateSession(ctx, newSession("u1", "S1")); err != nil {
		t.Fatal(err)
	}
	userKey := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#U#u1"}, "sk": &types.AttributeValueMemberS{Value: "USER"}}
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table, Key: userKey, UpdateExpression: aws.String("REMOVE cstarts")}); err != nil {
		t.Fatal(err)
	}
	pauses := store.CountPauses(t)
	c.Add(time.Second)
	if err := s.RecordActivity(ctx, store.Activity{TenantID: "acme", UserID: "u1", SessionID: "S1", ClientID: "mobile"}); err != nil {
		t.Fatal(err)
	}
	if n := pauses.Load(); n != 0 {
		t.Errorf("the heartbeat paused %d times; want none", n)
	}
	got, err := s.GetSession(ctx, "acme", "u1", "S1")
	if err != nil || !slices.Equal(got.ClientIDs, []string{"mobile", "web"}) {
		t.Fatalf("session %+v, %v; want clients mobile and web", got, err)
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: userKey})
	if err != nil {
		t.Fatal(err)
	}
	if cs, ok := out.Item["cstarts"].(*types.AttributeValueMemberM); !ok || len(cs.Value) != 1 {
		t.Errorf("the user's counters %v; want the new client counted", out.Item["cstarts"])
	}
}
