package engage

import (
	"log/slog"
	"net/http"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Rocket.Chat's bodies (its engagement dashboard API).
// loginError is Rocket.Chat's 401: the two keys of older releases (and of the spec document)
// and the two that the route schemas of Rocket.Chat 8 require.
type loginError struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

type failure struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
}

// Texts Rocket.Chat answers with.
const (
	mustLogIn     = "You must be logged in to do this."
	noPermission  = "User does not have the permissions required for this action [error-unauthorized]"
	internalError = "Internal server error"
	unavailable   = "Service temporarily unavailable, retry later"
)

// rangeTooLarge refuses a range whose answer cannot fit in one Lambda response.
func rangeTooLarge(compressed bool) error {
	if compressed {
		return pulse.Errorf(pulse.EINVALID, "The range from start to end holds more active users than one answer can carry, even compressed: ask for fewer days.")
	}
	return pulse.Errorf(pulse.EINVALID, "The range from start to end holds more active users than one answer can carry: ask for fewer days, or accept gzip (Accept-Encoding: gzip).")
}

// Rocket.Chat's check(…) messages for a query parameter.

func missingKey(name string) error {
	return pulse.Errorf(pulse.EINVALID, "Match error: Missing key '%s'", name)
}

func failedWhere(name string) error {
	return pulse.Errorf(pulse.EINVALID, "Match error: Failed Match.Where validation in field %s", name)
}

// ErrorWriter maps Pulse's error vocabulary to the engagement surface, in this one place.
// Validation messages are Rocket.Chat's "Match error: …" texts, built by the endpoint.
func ErrorWriter(log *slog.Logger) httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		httpx.LogError(log, r, err)
		const ct = "application/json"
		switch pulse.ErrorCode(err) {
		case pulse.EUNAUTHORIZED:
			httpx.WriteJSON(w, http.StatusUnauthorized, ct, loginError{"error", mustLogIn, false, mustLogIn})
		case pulse.EFORBIDDEN:
			httpx.WriteJSON(w, http.StatusForbidden, ct, failure{false, noPermission})
		case pulse.EINVALID, pulse.ETOOLARGE, pulse.EUNSUPPORTED, pulse.ECONFLICT:
			httpx.WriteJSON(w, http.StatusBadRequest, ct, failure{false, pulse.ErrorMessage(err)})
		case pulse.ENOTFOUND:
			httpx.WriteJSON(w, http.StatusNotFound, ct, failure{false, "No route for " + pulse.AsError(err).ID + "."})
		case pulse.EUNAVAILABLE:
			w.Header().Set("Retry-After", "1")
			httpx.WriteJSON(w, http.StatusServiceUnavailable, ct, failure{false, unavailable})
		default:
			httpx.WriteJSON(w, http.StatusInternalServerError, ct, failure{false, internalError})
		}
	}
}
