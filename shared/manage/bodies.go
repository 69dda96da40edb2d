package manage

import (
	"fmt"
	"net/http"
	"net/netip"
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
	ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, fields)
	if len(fields) > 0 {
		return store.NewSession{}, pulse.FieldErrors(fields)
	}
	return store.NewSession{SessionID: deref(body.SessionID), ClientID: *body.ClientID, IP: ip, Device: *device, Location: *loc}, nil
}

// decodeActivity reads POST …/activity {"client_id"?,"ip_address"?,"user_agent"?}; the body is
// optional. Only what the body names changes: a heartbeat sent by a backend must not overwrite
// the user's address and browser with the backend's own.
func (a *API) decodeActivity(r *http.Request) (store.Activity, error) {
	var body struct {
		ClientID  *string `json:"client_id"`
		IPAddress *string `json:"ip_address"`
		UserAgent *string `json:"user_agent"`
	}
	if err := httpx.DecodeJSON(r, &body, true); err != nil {
		return store.Activity{}, err
	}
	fields := map[string][]string{}
	if body.ClientID != nil {
		if err := pulse.ValidID(*body.ClientID); err != nil {
			fields["client_id"] = []string{idProblem(err) + "."}
		}
	}
	act := store.Activity{ClientID: deref(body.ClientID)}
	if body.IPAddress != nil || body.UserAgent != nil {
		ip, device, loc := a.client(r, body.IPAddress, body.UserAgent, fields)
		if body.IPAddress != nil {
			act.IP, act.Location = ip, loc
		}
		if body.UserAgent != nil {
			act.Device = device
		}
	}
	if len(fields) > 0 {
		return store.Activity{}, pulse.FieldErrors(fields)
	}
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
// its IP address, parsed User-Agent and location. Problems go into fields.
func (a *API) client(r *http.Request, ipField, uaField *string, fields map[string][]string) (string, *pulse.Device, *pulse.Location) {
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
	loc := a.geo.Locate(ip, r.Header, ip == source)
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
