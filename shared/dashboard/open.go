package dashboard

import "github.com/pulse-sessions/pulse/shared/boot"

// Open composes the dashboard for its function: the page and its assets, which read the other
// surfaces over HTTP with the signed-in user's token and need nothing else.
func Open(b *boot.Base) (*API, error) { return New(b.Log), nil }
