package manage

import (
	"github.com/pulse-sessions/pulse/shared/pulse"
)

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
