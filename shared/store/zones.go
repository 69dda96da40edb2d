package store

import (
	"context"
	"sync"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// ZoneTTL is how long a container trusts a tenant's time zone before reading it again. A change
// of zone takes effect within this time.
const ZoneTTL = time.Minute

// Zones caches each tenant's time zone per container, so that recording activity does not read
// the tenant on every request.
type Zones struct {
	store *Store
	mu    sync.Mutex
	cache map[string]zoneEntry
}

type zoneEntry struct {
	loc     *time.Location
	expires time.Time
}

// NewZones returns a cache over s.
func NewZones(s *Store) *Zones { return &Zones{store: s, cache: map[string]zoneEntry{}} }

// Location returns the tenant's time zone, UTC when it has none (or no tenant item at all).
func (z *Zones) Location(ctx context.Context, tenant string) (*time.Location, error) {
	now := z.store.now()
	z.mu.Lock()
	e, ok := z.cache[tenant]
	z.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.loc, nil
	}
	loc := time.UTC
	t, err := z.store.GetTenant(ctx, tenant)
	switch {
	case pulse.ErrorCode(err) == pulse.ENOTFOUND:
	case err != nil:
		return nil, err
	case t.TimeZone != "":
		if l, err := time.LoadLocation(t.TimeZone); err == nil {
			loc = l
		}
	}
	z.mu.Lock()
	z.cache[tenant] = zoneEntry{loc: loc, expires: now.Add(ZoneTTL)}
	z.mu.Unlock()
	return loc, nil
}
