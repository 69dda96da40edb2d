package app

import (
	"fmt"

	"github.com/pulse-sessions/pulse/shared/admin"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/dashboard"
	"github.com/pulse-sessions/pulse/shared/engage"
	"github.com/pulse-sessions/pulse/shared/manage"
	"github.com/pulse-sessions/pulse/shared/publish"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

//go:generate go run ../gen -root ../..

// Each surface lists its own endpoints (manage.Routes, admin.Routes, engage.Routes): route
// key, what a caller needs, handler. template.yaml says which function serves which route key;
// the functions' main.go files, their build targets and the route list (docs/routes.md) are generated
// from it (go generate ./...), and tests fail when any of them drifts. Nothing here repeats a
// route.

// RouteInfo describes one HTTP route for documentation and checks.
type RouteInfo struct {
	Key     string // API Gateway's routeKey: "GET /api/users/{user_id}"
	Surface string // management, admin, engagement or dashboard
	Package string // the surface's package under shared/, whose Open the function's main calls
	Needs   string // the credential and the scope or permission it needs
}

// Routes returns every HTTP route the surfaces serve.
func Routes() []RouteInfo {
	var out []RouteInfo
	needs := func(scope pulse.Scope, perm pulse.Permission) string {
		s := "API key, scope `" + string(scope) + "`"
		switch perm {
		case "":
		case pulse.PermSignedIn:
			s += "; or any access token"
		default:
			s += "; or access token, permission `" + string(perm) + "`"
		}
		return s
	}
	for _, r := range manage.Routes {
		out = append(out, RouteInfo{r.Key, "management", "manage", needs(r.Scope, r.Perm)})
	}
	for _, r := range admin.Routes {
		out = append(out, RouteInfo{r.Key, "admin", "admin", needs(r.Scope, r.Perm)})
	}
	for _, r := range engage.Routes {
		out = append(out, RouteInfo{r.Key, "engagement", "engage", "access token, permission `" + string(r.Perm) + "`"})
	}
	for _, r := range dashboard.Routes {
		out = append(out, RouteInfo{r.Key, "dashboard", "dashboard", "none (the page signs in with an access token)"})
	}
	return out
}

// OpensWithLog reports whether a surface's Open takes a logger alone, not the Base: a surface
// that reads no table (the dashboard's page and assets). Its function is served by
// lambdahttp.Serve and links no store and no AWS SDK client; the build of its generated main
// fails if this and the surface's Open disagree.
func OpensWithLog(pkg string) bool { return pkg == "dashboard" }

// tasks are the functions that serve no HTTP route, by logical ID: the package under shared/
// whose Open the function's main calls, and the same handler built in this process.
var tasks = map[string]struct {
	pkg   string
	build func(*Deps) (any, error)
}{
	"CleanupExpiredSessionsFunction": {"cleanup", func(d *Deps) (any, error) { return cleanup.Open(d.Base) }},
	"PublishEventsFunction":          {"publish", func(d *Deps) (any, error) { return publish.NewHandler(d.Base, d.Events) }},
}

// TaskPackage returns the package under shared/ of a function that serves no HTTP route ("" if
// it is not a task).
func TaskPackage(function string) string { return tasks[function].pkg }

// Task returns the handler of a function that serves no HTTP route, as its main builds it (the
// publisher with d.Events for its EventBridge client).
func Task(d *Deps, function string) (any, error) {
	t, ok := tasks[function]
	if !ok {
		return nil, fmt.Errorf("app: no task for the function %q", function)
	}
	return t.build(d)
}

// Tasks returns the logical IDs of the functions that serve no HTTP route.
func Tasks() []string {
	out := make([]string, 0, len(tasks))
	for id := range tasks {
		out = append(out, id)
	}
	return out
}
