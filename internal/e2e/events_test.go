package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/demo"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/localevents"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/publish"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// Every function has an events/<folder>.json, the very file `sam local invoke -e` takes; each,
// replayed against the demo data through the function's real Lambda handler (the api-proxy
// adapter), answers as the route should.
func TestEventsReplay(t *testing.T) {
	e := apptest.New(t)
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Deps.Store, e.Tenant, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, demo.Admin, "make-run", 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer("$PULSE_API_KEY", e.Key, "$PULSE_USER_ID", demo.Admin, "$PULSE_AUTH_TOKEN", tok)
	tpl, _, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	folder := folders(t)
	checkPlan(t, tpl)
	// What some answers must hold beyond their status, by function folder.
	checks := map[string]func(t *testing.T, r events.APIGatewayV2HTTPResponse){
		"get-token": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b map[string]any
			if json.Unmarshal([]byte(r.Body), &b) != nil || b["name"] != "invoke" || b["expires_at"] == nil || len(b) != 4 {
				t.Errorf("want the token created before, without its secret, got %.200s", r.Body)
			}
		},
		"list-user-sessions": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			if r.Headers["X-Pagination"] == "" {
				t.Error("no X-Pagination header")
			}
		},
		"list-active-users": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Result []any }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Result) == 0 {
				t.Errorf("no active users in %.200s", r.Body)
			}
		},
		"list-daily-active-users": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Month []any }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Month) < 20 {
				t.Errorf("want about 30 days of activity, got %.200s", r.Body)
			}
		},
		"list-new-users": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct {
				Days   []any
				Period struct{ Count int }
			}
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Days) < 5 || b.Period.Count < 10 {
				t.Errorf("want new users on several days, got %.200s", r.Body)
			}
		},
		"list-users-by-hour": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Week []any }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Week) < 20 {
				t.Errorf("want a week of busy hours, got %.200s", r.Body)
			}
		},
		"list-busier-hours": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Hours []any }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Hours) != 12 {
				t.Errorf("want 12 two-hour groups, got %.200s", r.Body)
			}
		},
		"list-busier-days": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Month []any }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Month) != 8 {
				t.Errorf("want 8 days, got %.200s", r.Body)
			}
		},
		"list-active-user-counts": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b struct{ Days []struct{ DAU, WAU, MAU int } }
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b.Days) != 30 || b.Days[29].MAU < 10 {
				t.Errorf("want 30 days with a MAU, got %.200s", r.Body)
			}
		},
		"list-active-sessions": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			var b []struct {
				SessionID string `json:"session_id"`
			}
			if json.Unmarshal([]byte(r.Body), &b) != nil || len(b) == 0 || b[0].SessionID == "" || r.Headers["X-Total-Count"] == "" {
				t.Errorf("want active sessions with their IDs, got %.200s", r.Body)
			}
		},
		"dashboard": func(t *testing.T, r events.APIGatewayV2HTTPResponse) {
			if !strings.Contains(r.Body, "/dashboard/assets/app.") || r.Headers["Content-Security-Policy"] == "" {
				t.Errorf("want the page with its CSP, got %.200s", r.Body)
			}
		},
	}
	for _, w := range plan {
		file := folder[w.fn]
		if w.status == taskSummary || w.status == taskBatch {
			continue // the tasks' own subtests below
		}
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../events", file+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal([]byte(vars.Replace(string(raw))), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Version != "2.0" || ev.RouteKey != ev.RequestContext.RouteKey || ev.RequestContext.HTTP.SourceIP == "" || ev.RequestContext.RequestID == "" {
				t.Errorf("not a complete payload 2.0 event: version %q, routeKey %q/%q", ev.Version, ev.RouteKey, ev.RequestContext.RouteKey)
			}
			var fn string
			for _, rt := range tpl.Routes() {
				if rt.Key() == ev.RouteKey {
					fn = rt.Function
				}
			}
			if fn != w.fn {
				t.Fatalf("routeKey %q belongs to %s (functions/%s), not to this file", ev.RouteKey, fn, folder[fn])
			}
			h, err := app.Lambda(e.Deps, ev.RouteKey)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := h(iamcheck.WithFunction(ctx, fn), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != w.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, w.status)
			}
			// What the function answered, as API Gateway would send it, against openapi.yaml.
			req, _ := http.NewRequest(ev.RequestContext.HTTP.Method, "http://localhost"+ev.RawPath+"?"+ev.RawQueryString, nil)
			hr := &http.Response{StatusCode: resp.StatusCode, Header: http.Header{}}
			for k, v := range resp.Headers {
				hr.Header.Set(k, v)
			}
			apptest.CheckWire(t, req, hr, []byte(resp.Body))
			if check := checks[file]; check != nil {
				check(t, resp)
			}
		})
	}
	t.Run("cleanup-expired-sessions", func(t *testing.T) {
		raw, err := os.ReadFile("../../events/cleanup-expired-sessions.json")
		if err != nil {
			t.Fatal(err)
		}
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || len(ev.Resources) != 1 {
			t.Errorf("not a scheduled event: %+v", ev)
		}
		e.Clock.Add(time.Hour) // the demo's live sessions have gone idle by now
		run, err := cleanup.Open(e.Deps.Base)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := run(iamcheck.WithFunction(ctx, apptest.CleanupFunction), ev)
		if err != nil || !sum.Complete || sum.Ended == 0 {
			t.Errorf("cleanup: %+v, %v; want a complete run that ended the demo's sessions", sum, err)
		}
	})
	t.Run("publish-events", func(t *testing.T) {
		raw, err := os.ReadFile("../../events/publish-events.json")
		if err != nil {
			t.Fatal(err)
		}
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		bus := eventbus.New(localevents.BusName) // PulseEventBus as the tests name it (its policy is checked)
		defer bus.Close()
		base := *e.Deps.Base
		base.Config.EventBus = bus.Bus
		client, err := publish.EventBridgeFromEnv(bus.ClientEnv, e.IAM.EventBridge)
		if err != nil {
			t.Fatal(err)
		}
		h, err := publish.NewHandler(&base, client)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h(iamcheck.WithFunction(ctx, "PublishEventsFunction"), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%+v, %v", resp, err)
		}
		// A login, a heartbeat (nothing), a revoke, an erasure.
		var got []string
		for _, pe := range bus.Events() {
			got = append(got, pe.DetailType)
			if strings.Contains(string(pe.Detail), "ADD18897C6BF0AB785C53B010285CE3779FA2ECE3D7FD4AD0514E7FACC3CD9E5") {
				t.Errorf("%s carries the session key: %s", pe.DetailType, pe.Detail)
			}
		}
		if strings.Join(got, ", ") != "Session Started, Session Ended, User Erased" {
			t.Errorf("published %q", got)
		}
	})
}
