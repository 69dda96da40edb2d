package app

import (
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
)

// Route is one HTTP API route: the function of template.yaml that serves it, its pattern
// (API Gateway's routeKey, which Go's ServeMux reads the same way) and its endpoint.
type Route struct {
	Function string
	Pattern  string
	build    func(*Deps) (http.Handler, httpx.ErrorWriter)
}

// The routes, one per Lambda function. A test holds them to template.yaml one to one.
var (
	PutUser = Route{"PutUserFunction", "PUT /api/users/{user_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.PutUser(), d.Manage.Errors() }}
	GetUser = Route{"GetUserFunction", "GET /api/users/{user_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.GetUser(), d.Manage.Errors() }}
	DeleteUser = Route{"DeleteUserFunction", "DELETE /api/users/{user_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.DeleteUser(), d.Manage.Errors() }}
	CreateSession = Route{"CreateSessionFunction", "POST /api/users/{user_id}/sessions",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.CreateSession(), d.Manage.Errors() }}
	GetSession = Route{"GetSessionFunction", "GET /api/users/{user_id}/sessions/{session_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.GetSession(), d.Manage.Errors() }}
	RecordActivity = Route{"RecordActivityFunction", "POST /api/users/{user_id}/sessions/{session_id}/activity",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.RecordActivity(), d.Manage.Errors() }}
	RevokeSession = Route{"RevokeSessionFunction", "DELETE /api/users/{user_id}/sessions/{session_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.RevokeSession(), d.Manage.Errors() }}
	RevokeUserSessions = Route{"RevokeUserSessionsFunction", "DELETE /api/users/{user_id}/sessions",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) {
			return d.Manage.RevokeUserSessions(), d.Manage.Errors()
		}}
	ListUserSessions = Route{"ListUserSessionsFunction", "GET /api/users/{user_id}/sessions",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.ListSessions(), d.Manage.Errors() }}
	CreateToken = Route{"CreateTokenFunction", "POST /api/users/{user_id}/tokens",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.CreateToken(), d.Manage.Errors() }}
	RevokeToken = Route{"RevokeTokenFunction", "DELETE /api/users/{user_id}/tokens/{token_id}",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Manage.RevokeToken(), d.Manage.Errors() }}
	ListActiveUsers = Route{"ListActiveUsersFunction", "GET /settings/users/active-users",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Admin.ActiveUsers(), d.Admin.Errors() }}
	ListDailyActiveUsers = Route{"ListDailyActiveUsersFunction", "GET /api/v1/engagement-dashboard/users/active-users",
		func(d *Deps) (http.Handler, httpx.ErrorWriter) { return d.Engage.ActiveUsers(), d.Engage.Errors() }}
)

// Routes lists every route.
var Routes = []Route{PutUser, GetUser, DeleteUser, CreateSession, GetSession, RecordActivity, RevokeSession,
	RevokeUserSessions, ListUserSessions, CreateToken, RevokeToken, ListActiveUsers, ListDailyActiveUsers}

// RouteOf returns the route served by function, or false.
func RouteOf(function string) (Route, bool) {
	for _, r := range Routes {
		if r.Function == function {
			return r, true
		}
	}
	return Route{}, false
}
