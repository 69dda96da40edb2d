// Package wire holds the session's JSON shape that two parts of Pulse show the world: the
// management API's session bodies (MonoCloud's user sessions API) and the events the publisher
// puts on the bus. It lives in neither, so that the publisher links no HTTP surface and the
// surface no event code, and the two cannot drift apart.
package wire

import (
	"sort"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Session is a session as the management API shows it: keys in its original's order, times in
// Unix seconds, coordinates as strings, then Pulse's additions: new_device and new_location on
// every session, ended_at and end_reason on ended ones.
type Session struct {
	LastUpdated  int64    `json:"last_updated"`
	ExpiresAt    int64    `json:"expires_at"`
	LastMetadata Metadata `json:"last_metadata"`
	SessionKey   string   `json:"session_key,omitempty"` // never empty but in events (EventSession)
	SessionID    string   `json:"session_id"`
	InitiatedAt  int64    `json:"initiated_at"`
	ClientIDs    []string `json:"client_ids"`
	NewDevice    bool     `json:"new_device"`
	NewLocation  bool     `json:"new_location"`
	EndedAt      *int64   `json:"ended_at,omitempty"`
	EndReason    string   `json:"end_reason,omitempty"`
}

// Metadata is what Pulse last learnt of the session's client. Unknown values are "".
type Metadata struct {
	Country   string `json:"country"`
	City      string `json:"city"`
	Latitude  string `json:"latitude"`
	IPAddress string `json:"ip_address"`
	Region    string `json:"region"`
	UserAgent string `json:"user_agent"`
	Longitude string `json:"longitude"`
}

// NewSession returns s in the management API's shape as it stands at now (ended or not).
func NewSession(s *pulse.Session, now time.Time) Session {
	clients := append([]string(nil), s.ClientIDs...)
	sort.Strings(clients)
	if clients == nil {
		clients = []string{}
	}
	j := Session{
		LastUpdated: s.LastActivity.Unix(), ExpiresAt: s.ExpiresAt.Unix(),
		LastMetadata: Metadata{
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

// EventSession is a session in the management API's shape without its session_key, as Pulse's
// events carry it: the key identifies a session to the API's callers and has no place in events
// that leave for other systems.
func EventSession(s *pulse.Session, now time.Time) Session {
	j := NewSession(s, now)
	j.SessionKey = ""
	return j
}
