package manage

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// problemType is the problem's type as MonoCloud writes it, which its SDK reads: a validation
// failure (422 with errors by field) is "…/422#validation-error" (the SDK's
// MonoCloudKeyValidationException, with e.errors); any other status is "…/<status>".
func problemType(status int) string {
	if status == http.StatusUnprocessableEntity {
		return "https://httpstatuses.io/422#validation-error"
	}
	return "https://httpstatuses.io/" + strconv.Itoa(status)
}

// problem is an RFC 9457 problem details body, plus the request's trace ID.
type problem struct {
	Type     string              `json:"type"`
	Title    string              `json:"title"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail"`
	Instance string              `json:"instance"`
	TraceID  string              `json:"traceId"`
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
// statusOf gives, a client-safe detail, and the request ID as traceId.
func ErrorWriter(log *slog.Logger) httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		httpx.LogError(log, r, err)
		err = worded(err)
		status := statusOf(err)
		detail := detailOf(pulse.AsError(err))
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		httpx.WriteJSON(w, status, "application/problem+json", problem{
			Type: problemType(status), Title: http.StatusText(status), Status: status, Detail: detail,
			Instance: r.URL.EscapedPath(), TraceID: httpx.RequestID(r.Context()), Errors: pulse.ErrorFields(err),
		})
	}
}

// entryResult is one entry of a batch as the batch answers it: {"status":204} when recorded,
// or the problem its own route would have answered (status, type, title, detail, field
// errors), with retry_after in seconds when it is 503: the entry was not recorded (the
// deadline cut it, or DynamoDB was unavailable) and is to be sent again.
type entryResult struct {
	Status     int                 `json:"status"`
	Type       string              `json:"type,omitempty"`
	Title      string              `json:"title,omitempty"`
	Detail     string              `json:"detail,omitempty"`
	Errors     map[string][]string `json:"errors,omitempty"`
	RetryAfter int                 `json:"retry_after,omitempty"`
}

// entryResult maps an entry's outcome as ErrorWriter maps a request's. A failure of Pulse's
// own (5xx) is logged with its cause; the batch logs its answers' tally once (RecordActivities).
func (a *API) entryResult(r *http.Request, err error) entryResult {
	if err == nil {
		return entryResult{Status: http.StatusNoContent}
	}
	if code := pulse.ErrorCode(err); code == pulse.EINTERNAL || code == pulse.EUNAVAILABLE {
		httpx.LogError(a.log, r, err)
	}
	err = worded(err)
	status := statusOf(err)
	res := entryResult{Status: status, Type: problemType(status), Title: http.StatusText(status),
		Detail: detailOf(pulse.AsError(err)), Errors: pulse.ErrorFields(err)}
	if status == http.StatusServiceUnavailable {
		res.RetryAfter = 1
	}
	return res
}

// detailOf is the problem's detail: this surface's sentence for what the store or the
// authorizer said, or the surface's own message for input it refused.
func detailOf(e *pulse.Error) string {
	switch e.Code {
	case pulse.ENOTFOUND:
		if e.Entity == pulse.EntityRoute {
			return fmt.Sprintf("No route for %s.", e.ID)
		}
		return fmt.Sprintf("%s %s not found.", title(e.Entity), e.ID)
	case pulse.ECONFLICT:
		switch {
		case e.Reason == pulse.ReasonEnded:
			return fmt.Sprintf("Session %s has ended.", e.ID)
		case e.Reason == pulse.ReasonErasing:
			return fmt.Sprintf("User %s is being erased; the ID can be used again in a few minutes.", e.ID)
		case e.Reason == pulse.ReasonLimit && e.Entity == pulse.EntitySession:
			return fmt.Sprintf("Session %s already has %s clients, the most a session can have.", e.ID, e.Need)
		case e.Reason == pulse.ReasonLimit:
			return fmt.Sprintf("User %s already has %s live sessions, the most MAX_SESSIONS_PER_USER allows; end one first.", e.ID, e.Need)
		case e.Entity == pulse.EntityToken:
			return fmt.Sprintf("User %s already has a token named %s.", e.Owner, e.ID)
		case e.Entity == pulse.EntitySession:
			return fmt.Sprintf("Session %s already exists with different attributes.", e.ID)
		}
		return fmt.Sprintf("%s %s already exists.", title(e.Entity), e.ID)
	case pulse.EUNAUTHORIZED:
		if e.Entity == pulse.EntityToken {
			return "Invalid or missing access token."
		}
		return "Invalid or missing API key."
	case pulse.EFORBIDDEN:
		if e.Reason == pulse.ReasonNeedPerm {
			return fmt.Sprintf("The user's roles lack the %s permission.", e.Need)
		}
		return fmt.Sprintf("The API key lacks the %s scope.", e.Need)
	case pulse.EUNAVAILABLE:
		return "The service is temporarily unavailable."
	case pulse.EINTERNAL:
		return "Internal error."
	}
	if e.Message == "" && e.Fields != nil {
		return "One or more validation errors occurred."
	}
	return e.Message
}

// worded puts input errors that a shared part found (the body, the query string), which carry
// only a reason, in this surface's words: a sentence, or for a field of the wrong JSON type that
// field's validation error (422, as MonoCloud answers it).
func worded(err error) error {
	e := pulse.AsError(err)
	if e == nil {
		return err
	}
	var msg string
	switch e.Reason {
	case pulse.ReasonFieldType:
		return &pulse.Error{Code: pulse.EINVALID, Fields: map[string][]string{e.ID: {"must be " + jsonType(e.Need) + "."}}, Err: err}
	case pulse.ReasonQuery:
		msg = "The query string cannot be parsed: use & between parameters and valid percent-encoding."
	case pulse.ReasonBodyUnreadable:
		msg = "The request body could not be read."
	case pulse.ReasonBodyTooLarge:
		msg = "The request body is larger than " + e.Need + " bytes."
	case pulse.ReasonBodyMissing:
		msg = "A JSON request body is required."
	case pulse.ReasonBodyMediaType:
		msg = "The request body must be application/json (Content-Type)."
	case pulse.ReasonBodyUTF8:
		msg = "The request body is not valid UTF-8."
	case pulse.ReasonBodyMalformed:
		msg = "The request body is not valid JSON."
	case pulse.ReasonBodyNotObject:
		msg = "The request body must be a JSON object."
	case pulse.ReasonBodyTrailing:
		msg = "The request body must hold exactly one JSON object."
	case pulse.ReasonBodyDuplicate:
		msg = fmt.Sprintf("The request body names %q twice in one object.", e.ID)
	case pulse.ReasonCursor:
		msg = fmt.Sprintf("The %s parameter is not one this API gave: search again without it.", e.ID)
	default:
		return err
	}
	return &pulse.Error{Code: e.Code, Message: msg, Err: err}
}

// jsonType names the JSON type of a Go kind, as a field's validation error says it.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of the documented type"
	}
	return "a number"
}

// title capitalises an entity's name for the start of a sentence.
func title(entity string) string {
	if entity == "" {
		return ""
	}
	return strings.ToUpper(entity[:1]) + entity[1:]
}

// The surface's own messages for input it refuses before anything is read.

func badPathID(name string, err error) error {
	return pulse.Errorf(pulse.EINVALID, "%s %s.", name, idProblem(err))
}

// idProblem says what is wrong with an ID or a role (pulse.ValidID, pulse.ValidRole), to follow
// the field's name.
func idProblem(err error) string {
	switch {
	case errors.Is(err, pulse.ErrIDEmpty):
		return "must not be empty"
	case errors.Is(err, pulse.ErrIDDotSegment):
		return `must not be a dot segment ("." or "..")`
	case errors.Is(err, pulse.ErrIDTooLong):
		return fmt.Sprintf("must be at most %d characters", pulse.MaxIDLength)
	case errors.Is(err, pulse.ErrRoleColon):
		return "must not contain ':'"
	}
	return "must use only letters, digits and _-.@+: characters"
}

func paramTwice(name string) error {
	return pulse.Errorf(pulse.EINVALID, "The %s parameter may be given once.", name)
}

func paramNotNumber(name string) error {
	return pulse.Errorf(pulse.EINVALID, "The %s parameter must be a whole number.", name)
}

func sortMalformed() error {
	return pulse.Errorf(pulse.EINVALID, "The sort parameter must be in the 'sort_key:sort_order' format.")
}
