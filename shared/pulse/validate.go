package pulse

import "errors"

// MaxIDLength bounds every caller-chosen identifier (user, session, client, role IDs).
const MaxIDLength = 128

// MaxSessionClients bounds the clients (client IDs) one session can have: its first, and each
// new one a heartbeat brings. Client IDs are the caller's to choose, and a session carries them
// all, as does every index entry of it and every list that shows it: without a bound, a caller
// sending new ones grew a session until each heartbeat cost thousands of WCU and DynamoDB
// refused the item (400 KB). 32 IDs of the longest kind are 4 KB; a sign-in used by more
// applications than that is refused the next one (409), and nothing is written.
const MaxSessionClients = 32

// Why an ID or a role is refused. Each surface words these in its own errors file; the texts
// here are for logs and the operator's CLI.
var (
	ErrIDEmpty      = errors.New("empty")
	ErrIDDotSegment = errors.New("a dot segment (one or two dots)")
	ErrIDTooLong    = errors.New("longer than MaxIDLength")
	ErrIDCharacters = errors.New("characters other than letters, digits and _-.@+: (the five allowed marks)")
	ErrRoleColon    = errors.New("a role with ':'")
)

// ValidID checks a caller-chosen identifier. IDs become parts of DynamoDB keys, so they are
// limited to characters that can never form a key delimiter ('#') or a path separator: letters,
// digits and "_-.@+:". The limit keeps every key far below DynamoDB's 2 KB sort-key bound.
func ValidID(id string) error {
	if id == "" {
		return ErrIDEmpty
	}
	if id == "." || id == ".." {
		// A dot segment in a URL path means "here" or "up": /api/users/u/sessions/.. is
		// /api/users/u to any client or proxy that normalises it.
		return ErrIDDotSegment
	}
	if len(id) > MaxIDLength {
		return ErrIDTooLong
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '-' || c == '.' || c == '@' || c == '+' || c == ':':
		default:
			return ErrIDCharacters
		}
	}
	return nil
}

// ValidRole checks a role name: the ID rules, and no ':' (a role is written next to a
// permission, and "role:permission" must read one way only).
func ValidRole(role string) error {
	if err := ValidID(role); err != nil {
		return err
	}
	for i := 0; i < len(role); i++ {
		if role[i] == ':' {
			return ErrRoleColon
		}
	}
	return nil
}
