package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/shared/store"
	"golang.org/x/sync/errgroup"
)

// Logins and token creations racing a user's deletion leave nothing usable, visible or stored:
// every token that was created fails to authenticate, every session that was created reads as
// missing and cannot record activity, the admin list shows none of them, and once the
// scheduled sweep has run, the table holds nothing of the user. Twenty rounds.
func TestEraseRacingLoginsAndTokens(t *testing.T) {
	e := apptest.New(t)
	key := apptest.Key(e.Key)
	ctx := context.Background()
	for round := range 20 {
		user := fmt.Sprintf("victim%02d", round)
		if r := e.Do("PUT", "/api/users/"+user, `{"name":"V","roles":["admin"]}`, key...); r.Status != 201 {
			t.Fatalf("create %s: %d %s", user, r.Status, r.Body)
		}
		var mu sync.Mutex
		var tokens, sessions []string
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r := e.Do("POST", "/api/users/"+user+"/tokens", fmt.Sprintf(`{"name":"t%d"}`, i), key...)
				if r.Status == 201 {
					var tok struct{ AuthToken string }
					r.JSON(t, &tok)
					mu.Lock()
					tokens = append(tokens, tok.AuthToken)
					mu.Unlock()
				}
			}()
			go func() {
				defer wg.Done()
				sid := fmt.Sprintf("s%d", i)
				if r := e.Do("POST", "/api/users/"+user+"/sessions", `{"client_id":"web","session_id":"`+sid+`"}`, key...); r.Status == 201 {
					mu.Lock()
					sessions = append(sessions, sid)
					mu.Unlock()
				}
			}()
			if i == 30 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := e.Do("DELETE", "/api/users/"+user, "", key...); r.Status != 204 {
						t.Errorf("delete %s: %d %s", user, r.Status, r.Body)
					}
				}()
			}
		}
		wg.Wait()
		for _, tok := range tokens {
			r := e.Do("GET", "/api/v1/engagement-dashboard/users/active-users?start=2026-03-01T00:00:00.000Z&end=2026-03-10T00:00:00.000Z", "", "X-User-Id", user, "X-Auth-Token", tok)
			if r.Status != 401 {
				t.Errorf("round %d: a token created around the delete answers %d", round, r.Status)
			}
		}
		for _, sid := range sessions {
			if r := e.Do("GET", "/api/users/"+user+"/sessions/"+sid, "", key...); r.Status != 404 {
				t.Errorf("round %d: session %s created around the delete answers %d", round, sid, r.Status)
			}
			if r := e.Do("POST", "/api/users/"+user+"/sessions/"+sid+"/activity", "", key...); r.Status == 204 {
				t.Errorf("round %d: session %s records activity after the delete", round, sid)
			}
		}
		var active struct{ Result []map[string]any }
		e.Do("GET", "/settings/users/active-users", "", key...).JSON(t, &active)
		for _, a := range active.Result {
			if a["user.id"] == user {
				t.Errorf("round %d: the admin list shows a session of %s", round, user)
			}
		}
		if r := e.Do("GET", "/api/users/"+user, "", key...); r.Status != 404 {
			t.Errorf("round %d: the user answers %d", round, r.Status)
		}
	}
	// The scheduled sweep, past the grace: nothing of any of them is stored.
	e.Clock.Add(10 * time.Minute)
	if sum, err := e.Cleanup(ctx); err != nil || sum.UsersErased != 20 {
		t.Fatalf("sweep: %+v, %v; want the 20 erasures finished", sum, err)
	}
	out, err := e.DB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(e.Table)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		for _, attr := range []string{"uid", "pk"} {
			if v, ok := it[attr].(*types.AttributeValueMemberS); ok && len(v.Value) >= 6 && (v.Value[:6] == "victim" || contains(v.Value, "#U#victim")) {
				t.Errorf("left behind: %v %v", it["pk"], it["sk"])
			}
		}
	}
	// The ID starts clean once the sweep is done.
	if r := e.Do("PUT", "/api/users/victim00", `{"name":"New"}`, key...); r.Status != 201 {
		t.Errorf("re-creating victim00: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/api/users/victim00/sessions?status=all", "", key...); r.Status != 200 || string(r.Body) != "[]\n" {
		t.Errorf("victim00's sessions after re-creation: %d %s", r.Status, r.Body)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// countingWrites counts BatchWriteItem requests.
type countingWrites struct {
	store.API
	n *atomic.Int64
}

func (c countingWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.n.Add(1)
	return c.API.BatchWriteItem(ctx, in, o...)
}

// The erasure looks at its deadline between requests of at most 25 deletions, not between
// rounds of a thousand items: asked to stop after its first request, the scheduled sweep makes
// no second one (before: a round of 1,000 items and their tokens' credentials, some 60
// requests, ran to its end first; under AWS's emulator that took a DELETE past its 10 s). What
// it leaves, the next run finishes.
func TestErasureStopsBetweenBatches(t *testing.T) {
	var writes atomic.Int64
	e := apptest.NewWith(t, apptest.Options{WrapDB: func(api store.API) store.API { return countingWrites{api, &writes} }})
	ctx := context.Background()
	key := apptest.Key(e.Key)
	before := e.ItemsBesideCounters()
	if r := e.Do("POST", "/api/users/heavy/sessions", `{"client_id":"web"}`, key...); r.Status != 201 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range 600 {
		g.Go(func() error {
			_, _, err := e.Deps.Store.CreateToken(gctx, e.Tenant, "heavy", fmt.Sprintf("t%03d", i), 0)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	// The request's part: a context already at its deadline ends the live sessions, deletes
	// nothing more, and answers.
	near, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := e.Deps.Store.DeleteUser(near, e.Tenant, "heavy"); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("a DELETE at its deadline made %d batch writes", n)
	}
	e.Clock.Add(3 * time.Minute) // past the tombstone's grace: the sweep's turn
	stopAfterFirst := func() bool { return writes.Load() >= 1 }
	if done, complete, err := e.Deps.Store.SweepErased(ctx, stopAfterFirst); err != nil || done != 0 || complete {
		t.Fatalf("sweep told to stop: %d done, complete %v, %v", done, complete, err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("told to stop after its first request, the sweep made %d", n)
	}
	for run := range 100 {
		if _, complete, err := e.Deps.Store.SweepErased(ctx, func() bool { return false }); err != nil {
			t.Fatal(err)
		} else if complete {
			break
		}
		if run == 99 {
			t.Fatal("the sweep never finished")
		}
	}
	if n := e.ItemsBesideCounters(); n != before {
		t.Errorf("%d items after the sweep, want the %d from before the user", n, before)
	}
}
