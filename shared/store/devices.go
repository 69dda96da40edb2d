package store

import (
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// A user's devices (browser family and OS) and countries are remembered in the user's own item,
// each with the last UTC day it was seen (userItem.Devices, userItem.Places): a login reads that
// item anyway, so telling a new device costs no read, and a known device seen earlier the same
// day costs no write either. Entries older than the policy's NewDeviceWindow are pruned by the
// login that finds them, and each map holds at most maxSeen entries, so the item stays bounded
// (about 40 bytes an entry) whatever a user does.
const (
	attrDevices = "devices"
	attrPlaces  = "places"
	maxSeen     = 20
)

// deviceKey names a device as the comparison sees it: browser family and OS, never a version
// (an update is not a new device). "" when the user agent told neither.
func deviceKey(d pulse.Device) string {
	if d.Browser == "" && d.OS == "" {
		return ""
	}
	return mapKey(d.Browser) + " / " + mapKey(d.OS)
}

// mapKey makes what a client sent (a user agent's browser, a viewer country header) a safe
// key of the user's maps: at most 60 bytes of letters, digits and a few marks, so that no
// value can read as a document path ("a.b", "x[1]") in the update that stores it.
func mapKey(s string) string {
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:60], "")
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _-+()", r) {
			return r
		}
		return '_'
	}, s)
}

// noteSeen adds the login's device and country to the user's memory in upd, and reports
// whether each is new: not seen over the window, for a user who was seen before. A user's
// first session (no memory yet) is new on neither count; it starts the memory, on the
// condition that no concurrent login started it first (the loser reads the user again).
// The condition returned is for the user's update to hold as well.
func (s *Store) noteSeen(upd expression.UpdateBuilder, u *userItem, device, country string, now time.Time) (expression.UpdateBuilder, expression.ConditionBuilder, bool, bool) {
	today, first := startDay(now), startDay(now.Add(-s.policy.NewDeviceWindow))
	if u.Devices == nil && u.Places == nil {
		devices, places := map[string]string{}, map[string]string{}
		if device != "" {
			devices[device] = today
		}
		if country != "" {
			places[mapKey(country)] = today
		}
		return upd.Set(expression.Name(attrDevices), expression.Value(devices)).Set(expression.Name(attrPlaces), expression.Value(places)),
			expression.AttributeNotExists(expression.Name(attrDevices)), false, false
	}
	upd, newDevice := remember(upd, attrDevices, u.Devices, device, today, first)
	upd, newPlace := remember(upd, attrPlaces, u.Places, mapKey(country), today, first)
	return upd, expression.AttributeExists(expression.Name(attrDevices)), newDevice, newPlace
}

// remember updates one of the user's maps (attr, read as seen) for key seen today, pruning
// what was last seen before first and, past maxSeen entries, the oldest. It reports whether
// key was new: absent, or last seen before first, in a map that was not empty. Each entry is its own path, so concurrent
// logins from two devices both land.
func remember(upd expression.UpdateBuilder, attr string, seen map[string]string, key, today, first string) (expression.UpdateBuilder, bool) {
	path := func(k string) expression.NameBuilder {
		return expression.Name(attr).AppendName(expression.NameNoDotSplit(k))
	}
	var kept []string
	for k, day := range seen {
		if k == key {
			continue
		}
		if day < first {
			upd = upd.Remove(path(k))
		} else {
			kept = append(kept, k)
		}
	}
	if key == "" {
		return upd, false
	}
	// Nothing to compare with (the user's sessions so far told no device, or no country): a
	// baseline, not news.
	last, known := seen[key]
	isNew := len(seen) > 0 && (!known || last < first)
	if len(kept) >= maxSeen { // make room: the least recently seen go first
		sort.Slice(kept, func(i, j int) bool {
			if seen[kept[i]] != seen[kept[j]] {
				return seen[kept[i]] < seen[kept[j]]
			}
			return kept[i] < kept[j]
		})
		for _, k := range kept[:len(kept)-maxSeen+1] {
			upd = upd.Remove(path(k))
		}
	}
	if last != today {
		upd = upd.Set(path(key), expression.Value(today))
	}
	return upd, isNew
}
