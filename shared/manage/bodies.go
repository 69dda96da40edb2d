package manage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/useragent"
)

// The request bodies of the management API, decoded and validated without touching storage,
// so that they can be tested and fuzzed on their own. Each returns EINVALID (naming the fields
// at fault), ETOOLARGE or EUNSUPPORTED.

// decodeNewSession reads POST /api/users/{user_id}/sessions
// {"client_id","ip_address"?,"user_agent"?,"session_id"?}. The IP address and User-Agent
// default to the request's own; the User-Agent is parsed and the location found here, once.
func (a *API) decodeNewSession(r *http.Request) (store.NewSession, error) {
	var body struct {
		ClientID  *string `json:"client_id"`
		IPAddress *string `json:"ip_address"`
		UserAgent *string `json:"user_agent"`
		SessionID *string `json:"session_id"`
	}
	if err := httpx.DecodeJSON(r, &body, false); err != nil {
		return store.NewSession{}, err
	}
	fields := map[string][]string{}
	if body.ClientID == nil {
		fields["client_id"] = []string{"is required."}
	} else if err := pulse.ValidID(*body.ClientID); err != nil {
		fields["client_id"] = []string{idProblem(err) + "."}
	}
	if body.SessionID != nil {
		if err := pulse.ValidID(*body.SessionID); err != nil {
			fields["session_id"] = []string{idProblem(err) + "."}
		}
	}
	ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, true, fields)
	if len(fields) > 0 {
		return store.NewSession{}, pulse.FieldErrors(fields)
	}
	return store.NewSession{SessionID: deref(body.SessionID), ClientID: *body.ClientID, IP: ip, Device: *device, Location: *loc}, nil
}

// decodeActivity reads POST …/activity {"client_id"?,"ip_address"?,"user_agent"?}; the body is
// optional. Only what the body names changes: a heartbeat sent by a backend must not overwrite
// the user's address and browser with the backend's own.
func (a *API) decodeActivity(r *http.Request) (store.Activity, error) {
	var body activityFields
	if err := httpx.DecodeJSON(r, &body, true); err != nil {
		return store.Activity{}, err
	}
	fields := map[string][]string{}
	act := a.activityOf(r, body, true, fields)
	if len(fields) > 0 {
		return store.Activity{}, pulse.FieldErrors(fields)
	}
	return act, nil
}

// activityFields are what a heartbeat may change, alone or as an entry of a batch.
type activityFields struct {
	ClientID  *string `json:"client_id"`
	IPAddress *string `json:"ip_address"`
	UserAgent *string `json:"user_agent"`
}

// activityOf checks a heartbeat's fields (problems go into fields) and returns the activity
// they describe: the User-Agent parsed and the address located here, once. viewer says whether
// the request comes from the user's own client, whose CloudFront viewer headers then place it;
// a batch comes from the application's backend, and its entries are placed by address only.
func (a *API) activityOf(r *http.Request, body activityFields, viewer bool, fields map[string][]string) store.Activity {
	if body.ClientID != nil {
		if err := pulse.ValidID(*body.ClientID); err != nil {
			fields["client_id"] = []string{idProblem(err) + "."}
		}
	}
	act := store.Activity{ClientID: deref(body.ClientID)}
	if body.IPAddress != nil || body.UserAgent != nil {
		ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, viewer, fields)
		if body.IPAddress != nil {
			act.IP, act.Location = ip, loc
		}
		if body.UserAgent != nil {
			act.Device = device
		}
	}
	return act
}

// MaxActivityBatch is how many entries POST /api/activity takes in one request, and
// maxActivityBody the most bytes: 1,000 entries at the longest IDs (128 characters) and
// User-Agent (1,024 bytes) are about 1.6 MB.
const (
	MaxActivityBatch = 1000
	maxActivityBody  = 2 << 20
)

// decodeActivities reads POST /api/activity {"activity":[{"user_id","session_id",
// "client_id"?,"ip_address"?,"user_agent"?,"at"?},…]}. A body that is not that shape (no
// array, an entry that is not an object) or holds more than MaxActivityBatch entries is
// refused whole; an entry with a bad field gets its own error in errs, and the others go on.
// An entry's "at" must fall between oldest and now.
func (a *API) decodeActivities(r *http.Request, now, oldest time.Time) (acts []store.Activity, errs []error, err error) {
	var body struct {
		Activity *[]json.RawMessage `json:"activity"`
	}
	if err := httpx.DecodeJSONUpTo(r, &body, false, maxActivityBody); err != nil {
		return nil, nil, err
	}
	if body.Activity == nil {
		return nil, nil, pulse.FieldErrors(map[string][]string{"activity": {"is required."}})
	}
	entries := *body.Activity
	if len(entries) > MaxActivityBatch {
		return nil, nil, pulse.Errorf(pulse.ETOOLARGE, "The batch holds %d entries; at most %d are taken in one request.", len(entries), MaxActivityBatch)
	}
	for i, raw := range entries {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			return nil, nil, pulse.FieldErrors(map[string][]string{fmt.Sprintf("activity[%d]", i): {"must be an object."}})
		}
	}
	acts, errs = make([]store.Activity, len(entries)), make([]error, len(entries))
	for i, raw := range entries {
		acts[i], errs[i] = a.decodeEntry(r, raw, now, oldest)
	}
	return acts, errs, nil
}

// decodeEntry reads one entry of a batch: its session, what the heartbeat changes, and when it
// happened ("at", Unix seconds: not after now, not before oldest).
func (a *API) decodeEntry(r *http.Request, raw json.RawMessage, now, oldest time.Time) (store.Activity, error) {
	var e struct {
		activityFields
		UserID    *string         `json:"user_id"`
		SessionID *string         `json:"session_id"`
		At        json.RawMessage `json:"at"`
	}
	fields := map[string][]string{}
	if err := json.Unmarshal(raw, &e); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			fields[typeErr.Field] = []string{"must be " + jsonType(typeErr.Type.Kind().String()) + "."}
		} else {
			fields["activity"] = []string{"must be an object."}
		}
		return store.Activity{}, pulse.FieldErrors(fields)
	}
	for name, id := range map[string]*string{"user_id": e.UserID, "session_id": e.SessionID} {
		if id == nil {
			fields[name] = []string{"is required."}
		} else if err := pulse.ValidID(*id); err != nil {
			fields[name] = []string{idProblem(err) + "."}
		}
	}
	act := a.activityOf(r, e.activityFields, false, fields)
	if e.At != nil && string(e.At) != "null" {
		// Parsed from the JSON text itself: a number, never a string or a fraction.
		sec, err := strconv.ParseInt(string(e.At), 10, 64)
		switch {
		case err != nil:
			fields["at"] = []string{"must be a whole number of seconds since 1970 (Unix time)."}
		case sec > now.Unix():
			fields["at"] = []string{"must not be in the future."}
		case sec < oldest.Unix():
			fields["at"] = []string{fmt.Sprintf("must be at most SESSION_IDLE_TIMEOUT (%d seconds) in the past.", int64(now.Sub(oldest).Seconds()))}
		default:
			act.At = time.Unix(sec, 0)
		}
	}
	if len(fields) > 0 {
		return store.Activity{}, pulse.FieldErrors(fields)
	}
	act.UserID, act.SessionID = *e.UserID, *e.SessionID
	return act, nil
}

// decodeUser reads PUT /api/users/{user_id} {"name","type","roles":[]}.
func decodeUser(r *http.Request) (pulse.User, error) {
	var body struct {
		Name  *string  `json:"name"`
		Type  *string  `json:"type"`
		Roles []string `json:"roles"`
	}
	if err := httpx.DecodeJSON(r, &body, false); err != nil {
		return pulse.User{}, err
	}
	fields := map[string][]string{}
	name, typ := deref(body.Name), deref(body.Type)
	checkText(fields, "name", name, 256)
	checkText(fields, "type", typ, 64)
	if len(body.Roles) > 50 {
		fields["roles"] = append(fields["roles"], "must hold at most 50 roles.")
	}
	for _, role := range body.Roles {
		if err := pulse.ValidRole(role); err != nil {
			fields["roles"] = append(fields["roles"], fmt.Sprintf("role %q %s.", role, idProblem(err)))
		}
	}
	if len(fields) > 0 {
		return pulse.User{}, pulse.FieldErrors(fields)
	}
	return pulse.User{Name: name, Type: typ, Roles: body.Roles}, nil
}

// decodeToken reads POST /api/users/{user_id}/tokens {"name","expires_in"?}.
func decodeToken(r *http.Request) (string, time.Duration, error) {
	var body struct {
		Name      *string `json:"name"`
		ExpiresIn *int64  `json:"expires_in"`
	}
	if err := httpx.DecodeJSON(r, &body, false); err != nil {
		return "", 0, err
	}
	fields := map[string][]string{}
	if body.Name == nil {
		fields["name"] = []string{"is required."}
	} else if err := pulse.ValidID(*body.Name); err != nil {
		fields["name"] = []string{idProblem(err) + "."}
	}
	var ttl time.Duration
	if body.ExpiresIn != nil {
		if *body.ExpiresIn < minTokenTTL || *body.ExpiresIn > maxTokenTTL {
			fields["expires_in"] = []string{"must be between 60 and 31622400 seconds."}
		}
		ttl = time.Duration(*body.ExpiresIn) * time.Second
	}
	if len(fields) > 0 {
		return "", 0, pulse.FieldErrors(fields)
	}
	return *body.Name, ttl, nil
}

// client works out the session's client from the body, falling back to the request itself:
// its IP address, parsed User-Agent and location (from CloudFront's viewer headers when viewer
// and the address is the request's own). Problems go into fields.
func (a *API) client(r *http.Request, ipField, uaField *string, viewer bool, fields map[string][]string) (string, *pulse.Device, *pulse.Location) {
	source := httpx.SourceIP(r)
	ip := source
	if ipField != nil {
		parsed, err := netip.ParseAddr(*ipField)
		if err != nil || parsed.Zone() != "" {
			fields["ip_address"] = []string{"must be an IPv4 or IPv6 address."}
			return "", nil, nil
		}
		ip = parsed.Unmap()
	}
	ua := r.Header.Get("User-Agent")
	if uaField != nil {
		ua = *uaField
		if len(ua) > useragent.MaxLength {
			fields["user_agent"] = []string{fmt.Sprintf("must be at most %d bytes.", useragent.MaxLength)}
			return "", nil, nil
		}
	}
	device := useragent.Parse(ua)
	loc := a.geo.Locate(ip, r.Header, viewer && ip == source)
	text := ""
	if ip.IsValid() {
		text = ip.String()
	}
	return text, &device, &loc
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkText refuses text over max bytes or with control characters: it is stored and shown.
func checkText(fields map[string][]string, name, v string, max int) {
	if len(v) > max {
		fields[name] = append(fields[name], fmt.Sprintf("must be at most %d bytes.", max))
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		fields[name] = append(fields[name], "must not contain control characters.")
	}
}
