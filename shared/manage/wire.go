package manage

import (
	"sort"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// sessionJSON is a session as the management API shows it (MonoCloud's user sessions API): keys in
// the spec's order, times in Unix seconds, coordinates as strings, then Pulse's additions:
// new_device and new_location on every session, ended_at and end_reason on ended ones.
type sessionJSON struct {
	LastUpdated  int64        `json:"last_updated"`
	ExpiresAt    int64        `json:"expires_at"`
	LastMetadata metadataJSON `json:"last_metadata"`
	SessionKey   string       `json:"session_key,omitempty"` // never empty but in events (EventSession)
	SessionID    string       `json:"session_id"`
	InitiatedAt  int64        `json:"initiated_at"`
	ClientIDs    []string     `json:"client_ids"`
	NewDevice    bool         `json:"new_device"`
	NewLocation  bool         `json:"new_location"`
	EndedAt      *int64       `json:"ended_at,omitempty"`
	EndReason    string       `json:"end_reason,omitempty"`
}

// metadataJSON is what Pulse last learnt of the session's client. Unknown values are "".
type metadataJSON struct {
	Country   string `json:"country"`
	City      string `json:"city"`
	Latitude  string `json:"latitude"`
	IPAddress string `json:"ip_address"`
	Region    string `json:"region"`
	UserAgent string `json:"user_agent"`
	Longitude string `json:"longitude"`
}

func toSessionJSON(s *pulse.Session, now time.Time) sessionJSON {
	clients := append([]string(nil), s.ClientIDs...)
	sort.Strings(clients)
	if clients == nil {
		clients = []string{}
	}
	j := sessionJSON{
		LastUpdated: s.LastActivity.Unix(), ExpiresAt: s.ExpiresAt.Unix(),
		LastMetadata: metadataJSON{
			Country: s.Location.Country, City: s.Location.City, Latitude: s.Location.Latitude,
			IPAddress: s.IPAddress, Region: s.Location.Continent, UserAgent: s.Device.UserAgent,
			Longitude: s.Location.Longitude,
		},
		SessionKey: s.Key, SessionID: s.ID, InitiatedAt: s.InitiatedAt.Unix(), ClientIDs: clients,
		NewDevice: s.NewDevice, NewLocation: s.NewLocation,
	}
	if status, at, reason := s.State(now); status == pulse.StatusEnded {
		ended := at.Unix()
		j.EndedAt, j.EndReason = &ended, reason
	}
	return j
}

// userJSON is a user as the management API shows it.
type userJSON struct {
	UserID    string   `json:"user_id"`
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Roles     []string `json:"roles"`
	CreatedAt int64    `json:"created_at"`
	UpdatedAt int64    `json:"updated_at"`
}

func toUserJSON(u *pulse.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{UserID: u.ID, Name: u.Name, Type: u.Type, Roles: roles, CreatedAt: u.CreatedAt.Unix(), UpdatedAt: u.UpdatedAt.Unix()}
}

// EventSession is a session in this API's shape without its session_key, as Pulse's events
// carry it: the key identifies a session to the API's callers and has no place in events that
// leave for other systems.
func EventSession(s *pulse.Session, now time.Time) any {
	j := toSessionJSON(s, now)
	j.SessionKey = ""
	return j
}
