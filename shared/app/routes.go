package app

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/pulse-sessions/pulse/shared/admin"
	"github.com/pulse-sessions/pulse/shared/dashboard"
	"github.com/pulse-sessions/pulse/shared/engage"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/manage"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

//go:generate go run ../../internal/gen -root ../..

// Each surface lists its own endpoints (manage.Routes, admin.Routes, engage.Routes): route
// key, what a caller needs, handler. template.yaml says which function serves which route key;
// the functions' main.go files, their build targets and the README's route list are generated
// from it (go generate ./...), and tests fail when any of them drifts. Nothing here repeats a
// route.

// RouteInfo describes one HTTP route for documentation and checks.
type RouteInfo struct {
	Key     string // API Gateway's routeKey: "GET /api/users/{user_id}"
	Surface string // management, admin or engagement
	Needs   string // the credential and the scope or permission it needs
}

// Routes returns every HTTP route the surfaces serve.
func Routes() []RouteInfo {
	var out []RouteInfo
	needs := func(scope pulse.Scope, perm pulse.Permission) string {
		s := "API key, scope `" + string(scope) + "`"
		if perm != "" {
			s += "; or access token, permission `" + string(perm) + "`"
		}
		return s
	}
	for _, r := range manage.Routes {
		out = append(out, RouteInfo{r.Key, "management", needs(r.Scope, r.Perm)})
	}
	for _, r := range admin.Routes {
		out = append(out, RouteInfo{r.Key, "admin", needs(r.Scope, r.Perm)})
	}
	for _, r := range engage.Routes {
		out = append(out, RouteInfo{r.Key, "engagement", "access token, permission `" + string(r.Permission) + "`"})
	}
	for _, r := range dashboard.Routes {
		out = append(out, RouteInfo{r.Key, "dashboard", "none (the page signs in with an access token)"})
	}
	return out
}

// surface is what app needs of an API surface.
type surface interface {
	Handler(key string) (http.Handler, bool)
	Errors() httpx.ErrorWriter
}

// Handler returns route key's endpoint as one http.Handler: matched on the route's pattern
// segment by segment as API Gateway does (httpx.Match: never cleaned or redirected), wrapped in
// the common middleware, anything else answered as not found in the surface's format.
func (d *Deps) Handler(key string) (http.Handler, error) {
	for _, s := range []surface{d.Manage, d.Admin, d.Engage, d.Dashboard} {
		h, ok := s.Handler(key)
		if !ok {
			continue
		}
		writeErr := s.Errors()
		return httpx.Middleware(d.Log, d.IDs, writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !httpx.Match(key, r) {
				writeErr(w, r, pulse.NotFound("route", pulse.EntityRoute, r.Method+" "+r.URL.Path))
				return
			}
			// A query string that does not parse (a bad %-escape, a ';') is refused on every
			// route, whether or not it reads a parameter: what a route ignores today it may read
			// tomorrow, and a client should learn of its mistake either way. The engagement
			// surface does it itself, after authentication, as Rocket.Chat orders its checks.
			if _, err := url.ParseQuery(r.URL.RawQuery); err != nil && !checksQuery(s) {
				writeErr(w, r, manage.QueryUnparseable())
				return
			}
			r.Pattern = key
			h.ServeHTTP(w, r)
		})), nil
	}
	return nil, fmt.Errorf("app: no surface serves the route %q", key)
}

// checksQuery reports whether a surface refuses malformed query strings itself.
func checksQuery(s surface) bool {
	q, ok := s.(interface{ ChecksQuery() bool })
	return ok && q.ChecksQuery()
}

// tasks are the functions that serve no HTTP route, by logical ID: what each passes to
// lambda.Start.
var tasks = map[string]func(*Deps) (any, error){
	"CleanupExpiredSessionsFunction": func(d *Deps) (any, error) { return Cleanup(d), nil },
	"PublishEventsFunction":          func(d *Deps) (any, error) { return Publish(d) },
}

// Task returns the handler of a function that serves no HTTP route.
func Task(d *Deps, function string) (any, error) {
	t, ok := tasks[function]
	if !ok {
		return nil, fmt.Errorf("app: no task for the function %q", function)
	}
	return t(d)
}

// Tasks returns the logical IDs of the functions that serve no HTTP route.
func Tasks() []string {
	out := make([]string, 0, len(tasks))
	for id := range tasks {
		out = append(out, id)
	}
	return out
}
