package admin

import "github.com/pulse-sessions/pulse/shared/boot"

// Open composes the admin surface for a function.
func Open(b *boot.Base) (*API, error) { return New(b.Store, b.Tenants, b.Log), nil }
