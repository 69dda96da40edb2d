package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/demo"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"golang.org/x/sync/errgroup"
)

// Every function's bootstrap, built by its Makefile target, answers its events/ file under AWS's
// Lambda Runtime Interface Emulator (aws-lambda-rie, what `sam local invoke` runs) against
// DynamoDB Local, as it would in Lambda.
func TestBuiltFunctionsUnderRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	ctx := context.Background()
	tpl, root, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	bins, err := lambdarun.Build(ctx, root, t.TempDir(), "", tpl.Functions()...)
	if err != nil {
		t.Fatal(err)
	}
	rie, err := lambdarun.BuildRIE(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := apptest.New(t)
	// The binaries run on the real clock: the demo data must be current.
	if err := demo.Seed(ctx, e.Deps.Store, e.Tenant, time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, demo.Admin, "make-run", 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$PULSE_API_KEY", e.Key, "$PULSE_USER_ID", demo.Admin, "$PULSE_AUTH_TOKEN", tok)
	bus := eventbus.New("pulse-invoke-events") // EventBridge's stand-in: the publisher's PutEvents land here
	defer bus.Close()
	local := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + e.AccessKey, "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + ddbtest.Endpoint(), "AWS_ENDPOINT_URL_EVENTBRIDGE=" + bus.URL}
	refs := map[string]string{ddbtest.Table: e.Table, "PulseEventBus": bus.Bus}
	folder := folders(t)
	// underRIE starts function fn's built binary under AWS's emulator with its template settings,
	// refs and env, changed by edit when given, until the test ends; event reads its events/ file
	// with the local stack's credentials filled in.
	underRIE := func(t *testing.T, fn string, refs map[string]string, env []string, edit func(*lambdarun.Function)) (lambdarun.Function, *lambdarun.RIE) {
		t.Helper()
		f, err := lambdarun.FromTemplate(tpl, fn, bins[fn], refs, env...)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&f)
		}
		r, err := lambdarun.NewRIE(f, rie)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return f, r
	}
	event := func(t *testing.T, folder string) string {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(root, "events", folder+".json"))
		if err != nil {
			t.Fatal(err)
		}
		return vars.Replace(string(raw))
	}
	checkPlan(t, tpl) // the replay plan's order: the token is created before it is revoked, the user deleted last
	for _, c := range plan {
		t.Run(c.fn, func(t *testing.T) {
			var logs apptest.SyncBuffer
			_, r := underRIE(t, c.fn, refs, local, func(f *lambdarun.Function) { f.Output = &logs })
			res, err := r.Invoke(ctx, []byte(event(t, folder[c.fn])))
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != nil {
				t.Fatalf("function error %+v", res.Error)
			}
			r.Close() // ends RIE and the process; what they printed is in logs
			if out := logs.String(); out == "" || strings.Contains(out, e.Key) || strings.Contains(out, tok) {
				t.Errorf("the function's logs are empty or hold a credential: %.300s", out)
			}
			if !res.Cold || res.InitDuration <= 0 || res.MaxMemoryKB <= 0 {
				t.Errorf("cold %v init %v memory %d kB: want a measured cold start", res.Cold, res.InitDuration, res.MaxMemoryKB)
			}
			if c.status == taskBatch { // the publisher returns the records to retry, and publishes
				var resp events.DynamoDBEventResponse
				if err := json.Unmarshal(res.Payload, &resp); err != nil || resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
					t.Errorf("publisher answered %s, want no batch item failures", res.Payload)
				}
				if n := len(bus.Events()); n != 3 {
					t.Errorf("%d events published, want 3 (a start, an end, an erasure)", n)
				}
				return
			}
			if c.status == taskSummary { // the scheduled cleanup returns its summary
				var sum struct{ Complete bool }
				if json.Unmarshal(res.Payload, &sum) != nil || !sum.Complete {
					t.Errorf("cleanup summary %s", res.Payload)
				}
				return
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(res.Payload, &resp); err != nil {
				t.Fatalf("not an HTTP API response: %s", res.Payload)
			}
			if resp.StatusCode != c.status {
				t.Errorf("%d %s, want %d", resp.StatusCode, resp.Body, c.status)
			}
		})
	}
	t.Run("revoke-all of 4,000 live sessions within the deadline", func(t *testing.T) {
		// A user with 4,000 live sessions (imported: past any cap); the built function under
		// AWS's emulator with the template's timeout must answer 204, and every session must
		// read as ended afterwards.
		importLive(t, e, "hana", 4000)
		f, r := underRIE(t, "RevokeUserSessionsFunction", map[string]string{ddbtest.Table: e.Table}, local, nil)
		res, err := r.Invoke(ctx, []byte(event(t, "revoke-user-sessions")))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if res.Error != nil || json.Unmarshal(res.Payload, &resp) != nil || resp.StatusCode != 204 {
			t.Fatalf("revoke-all of 4,000: %+v %s, want 204 within the %s timeout", res.Error, res.Payload, f.Timeout)
		}
		t.Logf("4,000 live sessions revoked in %s (timeout %s)", res.Duration, f.Timeout)
		page, err := e.Deps.Store.SessionsPage(ctx, e.Tenant, "hana", store.SessionQuery{Status: "all", Sort: "session_id", Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			if s.EndReason == "" {
				t.Fatalf("session %s still live after the revoke-all", s.ID)
			}
		}
		if page.Total < 4000 {
			t.Errorf("%d sessions stored, want at least 4,000", page.Total)
		}
	})
	t.Run("erasing a user with 2,500 tokens and 300 sessions within the deadline", func(t *testing.T) {
		// The size at which a DELETE was measured answering 503 after 9 s of its 10 (one round of
		// the erasure read 1,000 items and deleted them and their tokens' credentials before it
		// looked at the clock again): the built function under AWS's emulator answers 204 within
		// the template's timeout, the user is gone at once, and the scheduled function, held to
		// its own timeout, finishes the rest. TestErasureStopsBetweenBatches pins the cause.
		importLive(t, e, "bulky", 300)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		tokens := make([]string, 2500)
		for i := range tokens {
			g.Go(func() error {
				var err error
				tokens[i], _, err = e.Deps.Store.CreateToken(gctx, e.Tenant, "bulky", fmt.Sprintf("t%04d", i), 0)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		ev := strings.ReplaceAll(event(t, "delete-user"), "/api/users/ben", "/api/users/bulky")
		ev = strings.ReplaceAll(ev, `"user_id": "ben"`, `"user_id": "bulky"`)
		f, r := underRIE(t, "DeleteUserFunction", map[string]string{ddbtest.Table: e.Table}, local, nil)
		res, err := r.Invoke(ctx, []byte(ev))
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if res.Error != nil || json.Unmarshal(res.Payload, &resp) != nil || resp.StatusCode != 204 {
			t.Fatalf("erasure: %+v %s, want 204 within the %s timeout", res.Error, res.Payload, f.Timeout)
		}
		t.Logf("the erasure answered 204 in %s (timeout %s)", res.Duration, f.Timeout)
		if _, err := e.Deps.Store.GetUser(ctx, e.Tenant, "bulky"); pulse.ErrorCode(err) != pulse.ENOTFOUND {
			t.Errorf("the user after the erasure: %v, want not found at once", err)
		}
		if _, _, err := e.Deps.Store.AuthenticateToken(ctx, "bulky", tokens[2499]); err == nil {
			t.Error("a token of the erased user still authenticates")
		}
		// The schedule finishes it: runs held to the cleanup's template timeout, past the grace.
		e.Clock.Set(time.Now().Add(3 * time.Minute))
		timeout := time.Duration(tpl.Setting("CleanupExpiredSessionsFunction", "Timeout").(int64)) * time.Second
		for run := 1; ; run++ {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			started := time.Now()
			sum, err := e.Cleanup(rctx)
			cancel()
			if err != nil {
				t.Fatalf("cleanup run %d: %v", run, err)
			}
			if time.Since(started) > timeout {
				t.Errorf("cleanup run %d took %s, past its %s timeout", run, time.Since(started), timeout)
			}
			if sum.Complete && partitionItems(t, e, "bulky") == 0 {
				break
			}
			if run == 5 {
				t.Fatalf("the erasure is not finished after %d cleanup runs: %+v, %d items left", run, sum, partitionItems(t, e, "bulky"))
			}
		}
		page, err := e.Deps.Store.SessionsPage(ctx, e.Tenant, "bulky", store.SessionQuery{Status: "all", Sort: "session_id", Limit: 100})
		if err == nil && len(page.Sessions) > 0 {
			t.Errorf("%d sessions of the erased user remain", len(page.Sessions))
		}
	})
	t.Run("DynamoDB hangs: 503 before the deadline, then recovery", func(t *testing.T) {
		// DynamoDB's endpoint goes quiet (a proxy that stops forwarding). The function gives up
		// on it before Lambda's deadline and answers 503 in its surface's format, rather than
		// being killed (which API Gateway would turn into its own opaque error); once DynamoDB
		// answers again the same warm process serves the next request. A function that does
		// overrun its deadline is reported as Lambda reports it: see the lambdarun tests.
		var hang atomic.Bool
		proxy := forward(t, strings.TrimPrefix(ddbtest.Endpoint(), "http://"), &hang)
		env := append(append([]string{}, local[:3]...), "AWS_ENDPOINT_URL_DYNAMODB=http://"+proxy)
		_, r := underRIE(t, "GetUserFunction", map[string]string{ddbtest.Table: e.Table}, env, func(f *lambdarun.Function) { f.Timeout = 4 * time.Second })
		getUser := []byte(event(t, "get-user"))
		hang.Store(true)
		res, err := r.Invoke(ctx, getUser)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if res.Error != nil || json.Unmarshal(res.Payload, &resp) != nil {
			t.Fatalf("hung DynamoDB: %+v %s, want an answer before the deadline", res.Error, res.Payload)
		}
		if resp.StatusCode != 503 || resp.Headers["Retry-After"] == "" || resp.Headers["Content-Type"] != "application/problem+json" ||
			strings.Contains(resp.Body, "dynamodb") || strings.Contains(resp.Body, "context") {
			t.Errorf("hung DynamoDB: %d %v %s, want a 503 problem with Retry-After and no internals", resp.StatusCode, resp.Headers, resp.Body)
		}
		hang.Store(false)
		res, err = r.Invoke(ctx, getUser)
		if err != nil {
			t.Fatal(err)
		}
		resp = events.APIGatewayV2HTTPResponse{}
		if res.Error != nil || res.Cold || json.Unmarshal(res.Payload, &resp) != nil || resp.StatusCode != 200 {
			t.Errorf("after DynamoDB came back: %+v cold %v %s, want the warm process answering 200", res.Error, res.Cold, res.Payload)
		}
	})
}

// forward proxies TCP connections to target, or, while hang is set, accepts them and never
// answers.
func forward(t *testing.T, target string, hang *atomic.Bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if hang.Load() {
				t.Cleanup(func() { c.Close() })
				continue
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c) }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String()
}

// importLive gives user n live sessions (imported: past any cap), active a minute ago.
func importLive(t *testing.T, e *apptest.Env, user string, n int) {
	t.Helper()
	now := time.Now()
	var sessions []*pulse.Session
	for i := range n {
		sessions = append(sessions, &pulse.Session{TenantID: e.Tenant, UserID: user, ID: fmt.Sprintf("%s%05d", user, i), Key: "K",
			ClientIDs: []string{"web"}, InitiatedAt: now.Add(-time.Hour), LastActivity: now.Add(-time.Minute),
			ExpiresAt: now.Add(29 * time.Minute), HardExpires: now.Add(23 * time.Hour)})
	}
	users := []pulse.User{{TenantID: e.Tenant, ID: user, Name: user, CreatedAt: now, UpdatedAt: now}}
	if err := e.Deps.Store.Import(context.Background(), users, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
}

// partitionItems counts what the table holds in user's partition, the tombstone included: a
// Query with Select COUNT, which only tests use.
func partitionItems(t *testing.T, e *apptest.Env, user string) int {
	t.Helper()
	out, err := e.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(e.Table), Select: types.SelectCount,
		ConsistentRead: aws.Bool(true), KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "T#" + e.Tenant + "#U#" + user}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}
