package httpx

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Match follows API Gateway: segment by segment on the path as sent, never cleaned.
func TestMatch(t *testing.T) {
	const key = "DELETE /api/users/{user_id}/sessions/{session_id}"
	for _, tc := range []struct {
		method, target string
		ok             bool
		values         map[string]string
	}{
		{"DELETE", "/api/users/u1/sessions/s1", true, map[string]string{"user_id": "u1", "session_id": "s1"}},
		{"DELETE", "/api/users/u%2F1/sessions/s1", true, map[string]string{"user_id": "u/1", "session_id": "s1"}},
		{"DELETE", "/api/users/u1/sessions/..", true, map[string]string{"user_id": "u1", "session_id": ".."}}, // not cleaned
		{"GET", "/api/users/u1/sessions/s1", false, nil},
		{"DELETE", "/api/users/u1/sessions", false, nil},
		{"DELETE", "/api/users/u1/sessions/s1/x", false, nil},
		{"DELETE", "/api/users//sessions/s1", false, nil}, // an empty parameter
		{"DELETE", "/api/accounts/u1/sessions/s1", false, nil},
	} {
		r := httptest.NewRequest(tc.method, "http://x"+tc.target, nil)
		if got := Match(key, r); got != tc.ok {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.target, got, tc.ok)
			continue
		}
		for name, want := range tc.values {
			if got := r.PathValue(name); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.target, name, got, want)
			}
		}
	}
}

// Query refuses what Go would drop silently; LenientQuery reads as Node.js does.
func TestQueries(t *testing.T) {
	for _, raw := range []string{"a=%ZZ", "a=1;b=2"} {
		if _, err := Query(httptest.NewRequest("GET", "/?"+raw, nil)); err == nil {
			t.Errorf("Query(%q): no error", raw)
		}
	}
	if v, err := Query(httptest.NewRequest("GET", "/?a=1&a=2&b=%20", nil)); err != nil || !reflect.DeepEqual(v["a"], []string{"1", "2"}) || v.Get("b") != " " {
		t.Errorf("Query: %v, %v", v, err)
	}
	got := LenientQuery(httptest.NewRequest("GET", "/?start=x;y&end=%ZZ&&k=a%20b", nil))
	want := map[string][]string{"start": {"x;y"}, "end": {"%ZZ"}, "k": {"a b"}}
	if !reflect.DeepEqual(map[string][]string(got), want) {
		t.Errorf("LenientQuery: %v, want %v", got, want)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    bool
	}{
		{nil, false},
		{[]string{"gzip"}, true},
		{[]string{"br, GZIP;q=0.5"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.0"}, false},
		{[]string{"*"}, true},
		{[]string{"identity", "deflate, gzip"}, true},
		{[]string{"gzip;q=x"}, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, h := range tc.headers {
			r.Header.Add("Accept-Encoding", h)
		}
		if got := AcceptsGzip(r); got != tc.want {
			t.Errorf("Accept-Encoding %q: %v, want %v", tc.headers, got, tc.want)
		}
	}
}

// A credential header sent twice, or empty, is not a credential.
func TestSingle(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if _, ok := Single(r, "X-API-KEY"); ok {
		t.Error("missing: ok")
	}
	r.Header.Add("X-API-KEY", "a")
	if v, ok := Single(r, "X-API-KEY"); !ok || v != "a" {
		t.Errorf("once: %q %v", v, ok)
	}
	r.Header.Add("X-API-KEY", "b")
	if _, ok := Single(r, "X-API-KEY"); ok {
		t.Error("twice: ok")
	}
	r.Header.Set("X-API-KEY", "")
	if _, ok := Single(r, "X-API-KEY"); ok {
		t.Error("empty: ok")
	}
}

func TestSourceIP(t *testing.T) {
	for addr, want := range map[string]string{"192.0.2.1": "192.0.2.1", "192.0.2.1:443": "192.0.2.1",
		"[2001:db8::1]:80": "2001:db8::1", "::ffff:192.0.2.9": "192.0.2.9", "nonsense": "invalid IP"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		if got := SourceIP(r); got.String() != want {
			t.Errorf("%q: %s, want %s", addr, got, want)
		}
	}
}

type seqIDs struct{}

func (seqIDs) NewID() string          { return "generated-id" }
func (seqIDs) NewSecret(n int) []byte { return make([]byte, n) }

// The middleware takes API Gateway's request ID, logs the route and never the query, and turns
// a panic into the surface's own 500 so that the next request is served.
func TestMiddleware(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var written []error
	writeErr := func(w http.ResponseWriter, r *http.Request, err error) {
		written = append(written, err)
		w.WriteHeader(599)
		_, _ = w.Write([]byte(RequestID(r.Context())))
	}
	h := Middleware(log, seqIDs{}, writeErr, Handle(func(w http.ResponseWriter, r *http.Request) error {
		switch r.URL.Query().Get("do") {
		case "panic":
			panic("boom")
		case "fail":
			return pulse.NotFound("get", pulse.EntityUser, "u1")
		}
		r.Pattern = "GET /x"
		_, _ = w.Write([]byte(RequestID(r.Context())))
		return nil
	}, writeErr))

	// Through the real Lambda adapter, which carries API Gateway's request context.
	resp, err := httpadapter.NewV2(h).ProxyWithContext(context.Background(), events.APIGatewayV2HTTPRequest{
		RouteKey: "GET /x", RawPath: "/x", RawQueryString: "secret=hunter2",
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "apigw-id",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/x"}}})
	if err != nil || resp.StatusCode != 200 || resp.Body != "apigw-id" {
		t.Errorf("ok: %d %q %v, want API Gateway's request ID", resp.StatusCode, resp.Body, err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x?do=fail", nil))
	if rec.Code != 599 || rec.Body.String() != "generated-id" || len(written) != 1 || pulse.ErrorCode(written[0]) != pulse.ENOTFOUND {
		t.Errorf("returned error: %d %q %v", rec.Code, rec.Body, written)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x?do=panic", nil))
	if rec.Code != 599 || len(written) != 2 || pulse.ErrorCode(written[1]) != pulse.EINTERNAL {
		t.Errorf("panic: %d %v, want the surface's error for EINTERNAL", rec.Code, written)
	}
	out := logs.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, `"route":"GET /x"`) || !strings.Contains(out, `"panic":"boom"`) ||
		!strings.Contains(out, `"status":599`) {
		t.Errorf("logs:\n%s", out)
	}
}
