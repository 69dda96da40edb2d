package httpx

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Match reports whether r is a request for the route key ("GET /api/users/{user_id}") and sets
// its path values. It matches segment by segment on the path as sent, as API Gateway does:
// unlike http.ServeMux it never cleans the path or redirects, so "/api/users/u/sessions/.."
// reaches the route with session_id "..", which the endpoint then refuses, instead of being
// redirected to another route (a client that follows the redirect could delete the user).
func Match(key string, r *http.Request) bool {
	method, pattern, ok := strings.Cut(key, " ")
	if !ok || r.Method != method {
		return false
	}
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	got := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(want) != len(got) {
		return false
	}
	values := map[string]string{}
	for i, w := range want {
		if name, isParam := strings.CutPrefix(w, "{"); isParam {
			seg, err := url.PathUnescape(got[i])
			if err != nil || seg == "" {
				return false
			}
			values[strings.TrimSuffix(name, "}")] = seg
		} else if w != got[i] {
			return false
		}
	}
	for name, v := range values {
		r.SetPathValue(name, v)
	}
	return true
}

// Query parses the request's query string strictly: a pair that cannot be decoded (a bad
// percent escape, a ';', which Go would drop silently) is an error rather than a parameter
// quietly missing.
func Query(r *http.Request) (url.Values, error) {
	return url.ParseQuery(r.URL.RawQuery)
}

// LenientQuery parses the query string as Node.js does (Rocket.Chat's server): pairs split on
// '&' only, so "start=x;y" is start "x;y"; a value whose escapes cannot be decoded is kept
// as sent, for the caller's validation to refuse.
func LenientQuery(r *http.Request) url.Values {
	out := url.Values{}
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		out[k] = append(out[k], v)
	}
	return out
}

// Route is one endpoint of a surface whose API is A: its route key (API Gateway's, as
// template.yaml names it), what a caller needs — an API key's Scope, and/or an access token
// user's Perm, as the surface's authorizer reads them — and the handler. Each surface lists its
// own in its Routes.
type Route[A any] struct {
	Key   string
	Scope pulse.Scope
	Perm  pulse.Permission
	Serve func(A, http.ResponseWriter, *http.Request) error
}

// Find returns the route of routes with key.
func Find[A any](routes []Route[A], key string) (Route[A], bool) {
	for _, rt := range routes {
		if rt.Key == key {
			return rt, true
		}
	}
	return Route[A]{}, false
}
