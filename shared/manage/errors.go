package manage

import (
	"log/slog"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// problemType is RFC 9457's "about:blank": the status code says it all, and the title is the
// status's reason phrase.
const problemType = "about:blank"

// problem is an RFC 9457 problem details body, plus the request's trace ID.
type problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail"`
	Instance string              `json:"instance"`
	TraceID  string              `json:"trace_id"`
	Errors   map[string][]string `json:"errors,omitempty"`
}

// statusOf maps Pulse's error vocabulary to the management API's status codes: the one place
// this surface does so.
func statusOf(err error) int {
	switch pulse.ErrorCode(err) {
	case pulse.EINVALID:
		if pulse.ErrorFields(err) != nil {
			return http.StatusUnprocessableEntity
		}
		return http.StatusBadRequest
	case pulse.ENOTFOUND:
		return http.StatusNotFound
	case pulse.ECONFLICT:
		return http.StatusConflict
	case pulse.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case pulse.EFORBIDDEN:
		return http.StatusForbidden
	case pulse.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case pulse.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case pulse.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorWriter returns the surface's error writer: application/problem+json with the status
// statusOf gives, a client-safe detail, and the request ID as trace_id.
func ErrorWriter(log *slog.Logger) httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		httpx.LogError(log, r, err)
		status := statusOf(err)
		detail := pulse.ErrorMessage(err)
		if status == http.StatusInternalServerError {
			detail = "Internal error."
		}
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		httpx.WriteJSON(w, status, "application/problem+json", problem{
			Type: problemType, Title: http.StatusText(status), Status: status, Detail: detail,
			Instance: r.URL.EscapedPath(), TraceID: httpx.RequestID(r.Context()), Errors: pulse.ErrorFields(err),
		})
	}
}
