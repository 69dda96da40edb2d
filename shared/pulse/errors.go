package pulse

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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

// Entities an error can be about. Surfaces turn them into their own words.
const (
	EntityUser    = "user"
	EntitySession = "session"
	EntityToken   = "token"
	EntityTenant  = "tenant"
	EntityAPIKey  = "API key"
	EntityRoute   = "route"
	EntityCursor  = "cleanup cursor"
)

// Reasons of a conflict.
const (
	ReasonExists    = "exists"     // the ID is taken (by a different request, for idempotent creates)
	ReasonEnded     = "ended"      // the session has ended
	ReasonMoved     = "moved"      // someone else changed it first
	ReasonErasing   = "erasing"    // the user is being erased: the ID is free again in minutes
	ReasonLimit     = "limit"      // the user has as many live sessions as allowed, or the session as many clients (Entity says which, Need how many)
	ReasonNeedScope = "scope"      // the API key lacks Need
	ReasonNeedPerm  = "permission" // the user's roles lack Need
)

// Reasons of input refused by a part that every surface shares (the request body, the query
// string): each surface words them in its own errors file, none here.
const (
	ReasonQuery          = "query"              // the query string does not parse (a bad %-escape, a ';')
	ReasonBodyUnreadable = "body unreadable"    // the body could not be read
	ReasonBodyTooLarge   = "body too large"     // Need: the most bytes a body may have
	ReasonBodyMissing    = "body missing"       // a JSON body is required
	ReasonBodyMediaType  = "body media type"    // the Content-Type is not JSON
	ReasonBodyUTF8       = "body not UTF-8"     // the body is not valid UTF-8
	ReasonBodyMalformed  = "body malformed"     // the body is not valid JSON
	ReasonBodyNotObject  = "body not an object" // null, an array, a scalar
	ReasonBodyTrailing   = "body trailing data" // more after the one object
	ReasonBodyDuplicate  = "body duplicate key" // ID: a key named twice in one object
	ReasonFieldType      = "field type"         // ID: the field; Need: the JSON type it must have
	ReasonParamTwice     = "parameter twice"    // ID: a query parameter given more than once
	ReasonParamRange     = "parameter range"    // ID: a query parameter outside its range (Need)
	ReasonCursor         = "cursor"             // ID: a paging cursor that no answer gave
)

// Error is a domain error. The store and the authorizers say what failed and about what (Op,
// Entity, ID, Owner, Reason, Need) and never write a sentence for users: each surface's
// errors.go does, in its own words. Message is for input errors a surface finds itself, already
// in that surface's words; Fields names the fields of a validation failure. Err, the cause, is
// logged but never shown.
type Error struct {
	Code    string
	Op      string // the operation that failed: "get session"
	Entity  string // what it concerns: EntitySession…
	ID      string // the entity's ID, as the caller named it
	Owner   string // the user the entity belongs to, where that matters (a token's name is per user)
	Reason  string // for conflicts and credentials: Reason…
	Need    string // the scope or permission that was missing
	Message string
	Fields  map[string][]string
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pulse error: code=" + e.Code)
	for _, kv := range [][2]string{{"op", e.Op}, {"entity", e.Entity}, {"id", e.ID}, {"owner", e.Owner},
		{"reason", e.Reason}, {"need", e.Need}, {"message", e.Message}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for f := range e.Fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			fmt.Fprintf(&b, " %s: %s", f, strings.Join(e.Fields[f], " "))
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message in the words of the
// surface that raises it (input errors a surface finds itself).
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound says that op found no entity with id.
func NotFound(op, entity, id string) *Error {
	return &Error{Code: ENOTFOUND, Op: op, Entity: entity, ID: id}
}

// Conflict says that op contradicts the stored state of an entity, for reason.
func Conflict(op, entity, id, reason string) *Error {
	return &Error{Code: ECONFLICT, Op: op, Entity: entity, ID: id, Reason: reason}
}

// Unauthorized says that the credential of kind entity (EntityAPIKey, EntityToken) is missing,
// unknown, revoked or expired.
func Unauthorized(op, entity string) *Error {
	return &Error{Code: EUNAUTHORIZED, Op: op, Entity: entity}
}

// Forbidden says that a valid credential lacks need (a scope, reason ReasonNeedScope, or a
// permission, ReasonNeedPerm).
func Forbidden(op, reason, need string) *Error {
	return &Error{Code: EFORBIDDEN, Op: op, Reason: reason, Need: need}
}

// Invalid says that op was given input it cannot take; fields names what is wrong with each.
func Invalid(op string, fields map[string][]string) *Error {
	return &Error{Code: EINVALID, Op: op, Fields: fields}
}

// BodyError says that the request body was refused for reason (ReasonBody…, ReasonFieldType),
// with the key or field concerned (id) and what was needed (need), as the reasons describe.
func BodyError(code, reason, id, need string) *Error {
	return &Error{Code: code, Op: "read body", Reason: reason, ID: id, Need: need}
}

// QueryUnparseable says that op was given a query string that does not parse (ReasonQuery):
// each surface words it in its errors file.
func QueryUnparseable(op string) *Error {
	return &Error{Code: EINVALID, Op: op, Reason: ReasonQuery}
}

// FieldErrors returns an EINVALID error that names the fields at fault.
func FieldErrors(fields map[string][]string) *Error {
	return &Error{Code: EINVALID, Fields: fields}
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

// AsError returns err's *Error, or one with code EINTERNAL for anything else: the text of an
// unexpected error never reaches a client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: EINTERNAL, Err: err}
}

// ErrorMessage returns the message a surface gave an input error, "Internal error." for
// anything that is not an *Error.
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
