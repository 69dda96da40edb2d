package manage

import (
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/geo"
)

// Open composes the management surface for a function: its store, its geo database (and
// CloudFront's origin secret) from the configuration.
func Open(b *boot.Base) (*API, error) {
	g, err := geo.Open(b.Config.GeoIPDB, b.Config.OriginSecret)
	if err != nil {
		return nil, err
	}
	return New(b.Store, b.Tenants, g, b.Now, b.Log), nil
}
