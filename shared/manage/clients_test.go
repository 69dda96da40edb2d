package manage_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// longClient is a client ID of the longest kind (pulse.MaxIDLength), numbered.
func longClient(i int) string {
	return fmt.Sprintf("c%05d%s", i, strings.Repeat("x", pulse.MaxIDLength-6))
}

// loginWith starts a session of user with client and returns its ID.
func loginWith(t *testing.T, e *apptest.Env, user, client string) string {
	t.Helper()
	r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"`+client+`"}`, append(apptest.Key(e.Key), "User-Agent", chromeUA)...)
	if r.Status != 201 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var s map[string]any
	r.JSON(t, &s)
	return s["session_id"].(string)
}

// A session holds at most pulse.MaxSessionClients clients. Before the bound, a caller sending
// new client IDs grew the session (and the user's counters) with each: at 2,500 clients of 128
// characters a heartbeat cost 3,461 WCU, and at 2,923 DynamoDB refused the item (400 KB) and the
// heartbeat answered 500.
func TestSessionClientsAreBounded(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	id := loginWith(t, e, "alice", longClient(0))
	activity := "/api/users/alice/sessions/" + id + "/activity"
	for i := 1; i < pulse.MaxSessionClients; i++ {
		if r := e.Do("POST", activity, `{"client_id":"`+longClient(i)+`"}`, key...); r.Status != 204 {
			t.Fatalf("client %d: %d %s, want 204", i+1, r.Status, r.Body)
		}
	}
	var before map[string]any
	e.Do("GET", "/api/users/alice/sessions/"+id, "", key...).JSON(t, &before)

	// One more is refused, in MonoCloud's problem format, and changes nothing: neither the
	// clients nor the last activity, a minute later.
	e.Clock.Add(time.Minute)
	e.Meter.Reset()
	r := e.Do("POST", activity, `{"client_id":"one-too-many"}`, key...)
	want := fmt.Sprintf(`{"type":"https://httpstatuses.io/409","title":"Conflict","status":409,"detail":"Session %s already has %d clients, the most a session can have.","instance":"%s"`,
		id, pulse.MaxSessionClients, activity)
	if r.Status != 409 || !strings.HasPrefix(string(r.Body), want) {
		t.Fatalf("client %d: %d %s, want 409 %s…", pulse.MaxSessionClients+1, r.Status, r.Body, want)
	}
	if _, _, wcu := e.Meter.Snapshot(); wcu != 0 {
		t.Errorf("the refused client wrote %.1f WCU", wcu)
	}
	var after map[string]any
	e.Do("GET", "/api/users/alice/sessions/"+id, "", key...).JSON(t, &after)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the refused client changed the session:\n%v\nwas\n%v", after, before)
	}
	if n := len(after["client_ids"].([]any)); n != pulse.MaxSessionClients {
		t.Errorf("%d client_ids, want %d", n, pulse.MaxSessionClients)
	}

	// So is one in a batch, as the entry's own answer.
	if _, res := postBatch(e, e.Key, `{"user_id":"alice","session_id":"`+id+`","client_id":"one-too-many"}`); len(res) != 1 || res[0].Status != 409 ||
		res[0].Detail != fmt.Sprintf("Session %s already has %d clients, the most a session can have.", id, pulse.MaxSessionClients) {
		t.Errorf("the same in a batch: %+v, want one 409 saying so", res)
	}

	// A client the session has goes on as before, and costs what the bounded item weighs.
	e.Clock.Add(time.Minute)
	e.Meter.Reset()
	if r := e.Do("POST", activity, `{"client_id":"`+longClient(7)+`"}`, key...); r.Status != 204 {
		t.Fatalf("a known client: %d %s, want 204", r.Status, r.Body)
	}
	_, wcu := e.Meter.OnAWS()
	t.Logf("a heartbeat of a session with %d clients of %d characters: %.1f WCU on AWS's rules", pulse.MaxSessionClients, pulse.MaxIDLength, wcu)
	if wcu > 8 {
		t.Errorf("a heartbeat of a session with %d clients of %d characters: %.1f WCU on AWS's rules, want ≤ 8", pulse.MaxSessionClients, pulse.MaxIDLength, wcu)
	}

	// A burst of new clients at the bound's edge: the conditional write decides, exactly one
	// joins (every one of them read 31 clients first).
	id = loginWith(t, e, "bob", "c0")
	activity = "/api/users/bob/sessions/" + id + "/activity"
	for i := 1; i < pulse.MaxSessionClients-1; i++ {
		if r := e.Do("POST", activity, fmt.Sprintf(`{"client_id":"c%d"}`, i), key...); r.Status != 204 {
			t.Fatalf("client %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	const burst = 20
	statuses := make([]int, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			statuses[i] = e.Do("POST", activity, fmt.Sprintf(`{"client_id":"burst-%d"}`, i), key...).Status
		})
	}
	wg.Wait()
	tally := map[int]int{}
	for _, s := range statuses {
		tally[s]++
	}
	if tally[204] != 1 || tally[409] != burst-1 {
		t.Errorf("a burst of %d new clients at %d of %d: %v, want one 204 and the rest 409", burst, pulse.MaxSessionClients-1, pulse.MaxSessionClients, tally)
	}
	var s map[string]any
	e.Do("GET", "/api/users/bob/sessions/"+id, "", key...).JSON(t, &s)
	if n := len(s["client_ids"].([]any)); n != pulse.MaxSessionClients {
		t.Errorf("after the burst: %d client_ids, want %d", n, pulse.MaxSessionClients)
	}
}

// The user's counters by day and client stay bounded however many clients the user's sessions
// bring, and the lists filtered by client stay right when they start again: 10 sessions of 32
// clients each, past the bound of 256 client-days, for a user whose logins all bring "web" (the
// counters fill up in a heartbeat's join) and one whose logins each bring a new client (they fill
// up in the ninth login).
func TestUserClientCountersAreBounded(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	// counters reads the user's counters as stored: how many entries, whether they started
	// again, and the whole item's size in KB as DynamoDB counts it (a strongly consistent read
	// costs 1 RCU per 4 KB).
	counters := func(user string) (entries int, again bool, kb float64) {
		t.Helper()
		out, err := e.DB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.Table), ConsistentRead: aws.Bool(true),
			Key:                    map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "T#acme#U#" + user}, "sk": &types.AttributeValueMemberS{Value: "USER"}},
			ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := out.Item["cstarts"].(*types.AttributeValueMemberM); m != nil {
			entries = len(m.Value)
		}
		return entries, out.Item["cfrom"] != nil, 4 * aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
	}
	for _, u := range []struct {
		user     string
		newLogin bool // each login brings a client of its own
	}{{"carol", false}, {"dave", true}} {
		var sessions []string
		n := 0
		for i := range 10 {
			client := "web"
			if u.newLogin {
				client = longClient(n)
				n++
			}
			id := loginWith(t, e, u.user, client)
			if u.newLogin && i == 8 {
				// 8 sessions of 32 clients: 256 client-days, and this login brought one more.
				if entries, again, _ := counters(u.user); entries != 1 || !again {
					t.Errorf("%s, the ninth login: %d entries, started again %t; want 1, true", u.user, entries, again)
				}
			}
			for range pulse.MaxSessionClients - 1 {
				if r := e.Do("POST", "/api/users/"+u.user+"/sessions/"+id+"/activity", `{"client_id":"`+longClient(n)+`"}`, key...); r.Status != 204 {
					t.Fatalf("%s, client %d: %d %s", u.user, n, r.Status, r.Body)
				}
				n++
			}
			sessions = append(sessions, id)
		}
		entries, again, kb := counters(u.user)
		t.Logf("%s after 10 sessions of 32 clients: %d entries, user item ≤ %.0f KB", u.user, entries, kb)
		if entries < 1 || entries > 256 || !again || kb > 40 {
			t.Errorf("%s after 10 sessions of 32 clients: %d entries, started again %t, user item ≤ %.0f KB; want 1 to 256, true, ≤ 40 KB", u.user, entries, again, kb)
		}
		// Clients counted before the counters started again, and after: each list finds its one
		// session, its total counted from the index's keys meanwhile.
		for _, c := range []struct {
			client  string
			session string
		}{{longClient(0), sessions[0]}, {longClient(200), sessions[6]}, {longClient(n - 1), sessions[9]}} {
			list, p := listOfUser(t, e, u.user, "?status=all&client_id="+c.client)
			if p.TotalCount != 1 || len(list) != 1 || list[0]["session_id"] != c.session {
				t.Errorf("%s, client_id=%.12s…: total_count %d, sessions %s; want 1, %s", u.user, c.client, p.TotalCount, ids(list), c.session)
			}
		}
		if list, p := listOfUser(t, e, u.user, "?status=all"); p.TotalCount != 10 || len(list) != 10 {
			t.Errorf("%s, all sessions: total_count %d, %d sessions; want 10", u.user, p.TotalCount, len(list))
		}
	}
}
