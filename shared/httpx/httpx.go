// Package httpx holds what every Pulse endpoint does the same way over HTTP: request IDs,
// structured access logs, panic recovery, JSON decoding with limits, and JSON encoding. Error
// formats are not here: each API surface writes its own.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// MaxBody is the largest request body any endpoint reads (real ones are a few hundred bytes).
const MaxBody = 16 << 10

// MaxLambdaBody is the largest body an answer may have: Lambda refuses a synchronous response
// over 6,291,456 bytes (the process is then killed and API Gateway answers 500), and the
// response's JSON carries the status, the headers and the body as an escaped string; 16 KB are
// left for all but the body.
const MaxLambdaBody = 6291456 - 16<<10

// AcceptsGzip reports whether the request's Accept-Encoding allows gzip (or any coding) with a
// non-zero quality.
func AcceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

type requestIDKey struct{}

// RequestID returns the ID of the request ctx belongs to: API Gateway's request ID.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ErrorWriter writes err in a surface's own format.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// HandlerFunc is an endpoint that returns its error rather than writing it: the surface's
// ErrorWriter writes it, in one place, through Handle.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to an http.Handler whose errors writeErr writes.
func Handle(h HandlerFunc, writeErr ErrorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeErr(w, r, err)
		}
	})
}

// Middleware wraps every endpoint: it takes the request ID from API Gateway's request context
// (or makes one), logs one JSON line per request, and turns a panic into the surface's 500,
// logged with the request ID, so that the next request is served as usual.
func Middleware(log *slog.Logger, ids pulse.IDs, writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ""
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
			id = rc.RequestID
		}
		if id == "" {
			id = ids.NewID()
		}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if !rec.wrote {
					writeErr(rec, r, &pulse.Error{Code: pulse.EINTERNAL, Op: "serve request"})
				}
			}
			// Only the path pattern is logged: query strings and headers may carry secrets.
			log.InfoContext(r.Context(), "request", "request_id", id, "method", r.Method, "route", r.Pattern,
				"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// LogError logs an error answered to a client with its request ID. Internal and unavailable
// errors carry their cause; the client never sees it.
func LogError(log *slog.Logger, r *http.Request, err error) {
	code := pulse.ErrorCode(err)
	level := slog.LevelInfo
	if code == pulse.EINTERNAL || code == pulse.EUNAVAILABLE {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "request failed", "request_id", RequestID(r.Context()), "code", code, "error", err.Error())
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only for values Pulse builds itself: a programming error
		panic(fmt.Sprintf("httpx: encode response: %v", err))
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // a final newline, as curl users expect
}

// DecodeJSON reads a JSON object body into v. It refuses a body that is not declared JSON by
// its Content-Type, or declares none (EUNSUPPORTED), over MaxBody (ETOOLARGE), not valid UTF-8,
// malformed, not an object (null, an array), with a key twice in one object, or followed by
// more data (EINVALID), or whose fields have the wrong type (EINVALID naming the field). An
// empty body decodes as {} when allowEmpty.
func DecodeJSON(r *http.Request, v any, allowEmpty bool) error {
	return DecodeJSONUpTo(r, v, allowEmpty, MaxBody)
}

// DecodeJSONUpTo is DecodeJSON for a route whose bodies may be larger than MaxBody (a batch):
// up to limit bytes.
func DecodeJSONUpTo(r *http.Request, v any, allowEmpty bool, limit int) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyUnreadable, "", "")
	}
	if len(body) > limit {
		return pulse.BodyError(pulse.ETOOLARGE, pulse.ReasonBodyTooLarge, "", strconv.Itoa(limit))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyMissing, "", "")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	// application/json, or a type/subtype with JSON's structured-syntax suffix (RFC 6839), such
	// as application/merge-patch+json; a bare "+json" names no media type.
	if err != nil || (mt != "application/json" && (!strings.HasSuffix(mt, "+json") || !strings.Contains(mt, "/"))) {
		return pulse.BodyError(pulse.EUNSUPPORTED, pulse.ReasonBodyMediaType, "", "")
	}
	if !utf8.Valid(body) {
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyUTF8, "", "")
	}
	if err := strictObject(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return pulse.BodyError(pulse.EINVALID, pulse.ReasonFieldType, typeErr.Field, typeErr.Type.Kind().String())
		}
		if errors.As(err, &typeErr) {
			return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyNotObject, "", "")
		}
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyMalformed, "", "")
	}
	// Only whitespace may follow the object. (dec.More would miss a stray '}' or ']': it reports
	// more elements of an enclosing array or object, and at the top level there is none.)
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyTrailing, "", "")
	}
	return nil
}

// strictObject checks what encoding/json lets pass: the body is one JSON object (not null, an
// array or a scalar), and no object in it names a key twice (which of two values a decoder
// keeps is a guess, and two components reading one body may guess differently).
func strictObject(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	first, err := dec.Token()
	if err != nil {
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyMalformed, "", "")
	}
	if first != json.Delim('{') {
		return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyNotObject, "", "")
	}
	// keys holds, for each object open, the keys seen; nil for an array.
	keys := []map[string]bool{{}}
	expectKey := true
	for len(keys) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyMalformed, "", "")
		}
		top := keys[len(keys)-1]
		inObject := top != nil
		if inObject && expectKey {
			if tok == json.Delim('}') {
				keys = keys[:len(keys)-1]
				expectKey = len(keys) > 0 && keys[len(keys)-1] != nil
				continue
			}
			k, _ := tok.(string)
			if top[k] {
				return pulse.BodyError(pulse.EINVALID, pulse.ReasonBodyDuplicate, k, "")
			}
			top[k] = true
			expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			keys = append(keys, map[string]bool{})
			expectKey = true
			continue
		case json.Delim('['):
			keys = append(keys, nil)
			continue
		case json.Delim(']'):
			keys = keys[:len(keys)-1]
		}
		// A value ended: in an object the next token is a key.
		expectKey = len(keys) > 0 && keys[len(keys)-1] != nil
	}
	return nil
}

// SourceIP returns the address the request came from: API Gateway's sourceIp, which the
// Lambda adapter puts in RemoteAddr (with no port), or the peer address of a plain server.
func SourceIP(r *http.Request) netip.Addr {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// Single returns the value of header name when it is sent once, and false when it is missing
// or sent several times (API Gateway joins repeated headers with commas; the adapter splits
// them again): a credential sent twice is refused rather than guessed at.
func Single(r *http.Request, name string) (string, bool) {
	vs := r.Header.Values(name)
	if len(vs) != 1 || vs[0] == "" {
		return "", false
	}
	return vs[0], true
}
