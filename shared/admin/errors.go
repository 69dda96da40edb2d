package admin

import (
	"log/slog"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// The admin surface's error bodies (the IT-ops console's). Keys are literal dotted names.
type forbiddenBody struct {
	ResponseCode int    `json:"response-code"`
	Message      string `json:"message"`
	ErrorCode    string `json:"error.code"`
}

type badRequestBody struct {
	ResponseCode int    `json:"response-code"`
	Status       string `json:"status"`
	Message      string `json:"message"`
	ErrorCode    string `json:"error.code"`
}

type serverErrorBody struct {
	Result []serverError `json:"result"`
}

type serverError struct {
	ResponseCode int    `json:"response-code"`
	Status       string `json:"status"`
	Message      string `json:"message"`
	ErrorCode    string `json:"error.code"`
	Error        string `json:"error"`
}

// ErrorWriter maps Pulse's error vocabulary to the admin surface, in this one place: every
// credential problem is the spec's 403 MD022 (the original answers no 401), every input problem
// its 400 MD031, and anything else the spec's 500 shape, whose "error" field holds the request
// ID instead of the original's stack trace. A temporary outage answers 503 in that same shape.
func ErrorWriter(log *slog.Logger) httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		httpx.LogError(log, r, err)
		const ct = "application/json"
		switch pulse.ErrorCode(err) {
		case pulse.EUNAUTHORIZED, pulse.EFORBIDDEN:
			httpx.WriteJSON(w, http.StatusForbidden, ct, forbiddenBody{403, "Unauthorized access: Client is not allowed to access API", "MD022"})
		case pulse.EINVALID, pulse.ETOOLARGE, pulse.EUNSUPPORTED, pulse.ENOTFOUND, pulse.ECONFLICT:
			httpx.WriteJSON(w, http.StatusBadRequest, ct, badRequestBody{400, "fail", "Bad request", "MD031"})
		case pulse.EUNAVAILABLE:
			w.Header().Set("Retry-After", "1")
			writeServerError(w, r, http.StatusServiceUnavailable, "Service temporarily unavailable, Possible reason: the datastore is unreachable or throttled, retry later")
		default:
			writeServerError(w, r, http.StatusInternalServerError, "Internal server exception, Possible reason: internal error")
		}
	}
}

func writeServerError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	httpx.WriteJSON(w, status, "application/json", serverErrorBody{Result: []serverError{{
		ResponseCode: status, Status: "fail", Message: msg, ErrorCode: "MD031",
		Error: "request ID " + httpx.RequestID(r.Context()),
	}}})
}
