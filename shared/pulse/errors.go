package pulse

import (
	"errors"
	"fmt"
)

// Error codes form Pulse's one error vocabulary. Each API surface maps them to its own
// wire format in exactly one place (see the errors.go of each surface package).
const (
	ECONFLICT     = "conflict"     // the request contradicts stored state (ID reuse, ended session)
	EINTERNAL     = "internal"     // anything unexpected; details are logged, never returned
	EINVALID      = "invalid"      // malformed or out-of-range input
	ENOTFOUND     = "not_found"    // missing, or belonging to another tenant
	EUNAUTHORIZED = "unauthorized" // no credential, or one that is unknown, revoked or expired
	EFORBIDDEN    = "forbidden"    // a valid credential that lacks the scope or permission
	ETOOLARGE     = "too_large"    // the request body is over the limit
	EUNSUPPORTED  = "unsupported"  // a request body that is not JSON
	EUNAVAILABLE  = "unavailable"  // DynamoDB unreachable or throttling after retries
)

// Error is a domain error: a code from the vocabulary above, a message safe to show to the
// caller, for validation failures the messages per field, and the underlying cause, which is
// logged but never shown.
type Error struct {
	Code    string
	Message string
	Fields  map[string][]string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("pulse error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("pulse error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted, client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrors returns an EINVALID error that names the fields at fault.
func FieldErrors(fields map[string][]string) *Error {
	return &Error{Code: EINVALID, Message: "One or more validation errors occurred.", Fields: fields}
}

// ErrorCode returns the code of err, EINTERNAL when err is not (or does not wrap) an *Error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err, "Internal error." for anything that is
// not an *Error: the text of an unexpected error never reaches a client.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the per-field messages of a validation error, or nil.
func ErrorFields(err error) map[string][]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}
