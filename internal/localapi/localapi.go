// Package localapi serves Pulse's HTTP API on localhost the way API Gateway and Lambda serve it
// in AWS: routes come from template.yaml, each request becomes an HTTP API payload 2.0 event,
// and the event goes through the same aws-lambda-go-api-proxy adapter the function uses. It is
// for local runs and tests, where there is no SAM CLI or Docker.
package localapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"github.com/pulse-sessions/pulse/shared/httpx"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/pulse-sessions/pulse/internal/template"
)

// Invoke is a function's handler, as lambda.Start would call it.
type Invoke func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// maxPayload is API Gateway HTTP API's request size limit.
const maxPayload = 10 << 20

// Server routes requests to functions.
type Server struct {
	routes map[string]route
	order  []string // route keys, the most specific first
	newID  func() string
}

type route struct {
	template.Route
	invoke Invoke
}

// New returns a server for routes; functions maps each route's function to its handler. Every
// route must have a handler.
func New(routes []template.Route, functions map[string]Invoke, newID func() string) (*Server, error) {
	s := &Server{routes: map[string]route{}, newID: newID}
	for _, rt := range routes {
		inv, ok := functions[rt.Function]
		if !ok {
			return nil, fmt.Errorf("localapi: no handler for %s (%s)", rt.Function, rt.Key())
		}
		s.routes[rt.Key()] = route{Route: rt, invoke: inv}
		s.order = append(s.order, rt.Key())
	}
	// A literal segment wins over a parameter, as in API Gateway: fewer parameters first.
	sort.SliceStable(s.order, func(i, j int) bool {
		return strings.Count(s.order[i], "{") < strings.Count(s.order[j], "{")
	})
	return s, nil
}

// ServeHTTP answers like API Gateway: the path is matched as sent, segment by segment (never
// cleaned or redirected, so a dot segment reaches the route as a parameter), and unknown
// routes get its {"message":"Not Found"}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, key := range s.order {
		if httpx.Match(key, r) {
			s.serve(w, r, s.routes[key])
			return
		}
	}
	gatewayError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := Event(r, rt.Route, body, s.newID(), time.Now())
	resp, err := rt.invoke(r.Context(), ev)
	if err != nil { // what API Gateway answers when the integration fails
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	Write(w, resp)
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

// Event turns a request into the HTTP API payload 2.0 event API Gateway would send for rt:
// lower-case header names, repeated headers and query parameters joined with commas, cookies
// apart, path parameters by name, and the request context with source IP and request ID.
func Event(r *http.Request, rt template.Route, body []byte, requestID string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[name] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	query := map[string]string{}
	for k, vs := range r.URL.Query() {
		query[k] = strings.Join(vs, ",")
	}
	params := map[string]string{}
	for _, name := range pathParams(rt.Path) {
		params[name] = r.PathValue(name)
	}
	source := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(source); err == nil {
		source = ap.Addr().Unmap().String()
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Key(), RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Cookies: cookies, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Key(), AccountID: "000000000000", Stage: "$default", RequestID: requestID,
			APIID: "local", DomainName: r.Host, DomainPrefix: strings.Split(r.Host, ".")[0],
			Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: source, UserAgent: r.UserAgent(),
			},
		},
	}
	if len(query) > 0 {
		ev.QueryStringParameters = query
	}
	if len(params) > 0 {
		ev.PathParameters = params
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// pathParams returns the names of a route path's parameters, in order.
func pathParams(path string) []string {
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	return names
}

// Write writes a function's response as API Gateway would.
func Write(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	keys := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.Header().Set(k, resp.Headers[k])
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
