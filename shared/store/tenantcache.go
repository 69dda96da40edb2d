package store

import (
	"context"
	"sync"
	"time"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// TenantTTL is how long a container trusts what it read of a tenant (time zone, grants) before
// reading it again: a change takes effect within this time.
const TenantTTL = time.Minute

// Tenants caches tenants per container, so that recording activity or checking a permission
// does not read the tenant on every request.
type Tenants struct {
	store *Store
	mu    sync.Mutex
	cache map[string]tenantEntry
}

type tenantEntry struct {
	tenant  *pulse.Tenant
	loc     *time.Location
	expires time.Time
}

// NewTenants returns a cache over s.
func NewTenants(s *Store) *Tenants { return &Tenants{store: s, cache: map[string]tenantEntry{}} }

// Get returns the tenant and its time zone (UTC when it has none). A tenant without an item
// (its keys were made before tenants had settings) has no grants and UTC.
func (c *Tenants) Get(ctx context.Context, id string) (*pulse.Tenant, *time.Location, error) {
	now := c.store.now()
	c.mu.Lock()
	e, ok := c.cache[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.tenant, e.loc, nil
	}
	t, err := c.store.GetTenant(ctx, id)
	switch {
	case pulse.ErrorCode(err) == pulse.ENOTFOUND:
		t = &pulse.Tenant{ID: id}
	case err != nil:
		return nil, nil, err
	}
	loc := time.UTC
	if t.TimeZone != "" {
		if l, err := time.LoadLocation(t.TimeZone); err == nil {
			loc = l
		}
	}
	c.mu.Lock()
	c.cache[id] = tenantEntry{tenant: t, loc: loc, expires: now.Add(TenantTTL)}
	c.mu.Unlock()
	return t, loc, nil
}

// Location returns the tenant's time zone.
func (c *Tenants) Location(ctx context.Context, id string) (*time.Location, error) {
	_, loc, err := c.Get(ctx, id)
	return loc, err
}
