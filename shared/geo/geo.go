// Package geo finds where a session's IP address is, once, when the session is written: from
// CloudFront's viewer headers when the request provably came through the stack's CloudFront
// distribution from that very address, else from an optional MaxMind-format database, else
// nowhere (the location stays empty).
package geo

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// OriginHeader carries the secret the stack's CloudFront distribution adds to every request it
// forwards. Only a request that holds it came through CloudFront, whose viewer headers can then
// be believed: anyone calling the API directly can set CloudFront-Viewer-Country themselves.
const OriginHeader = "X-Pulse-Origin-Secret"

// Locator resolves locations. The zero value locates nothing.
type Locator struct {
	db     *maxminddb.Reader
	secret []byte // the origin secret; nil: no CloudFront in front, viewer headers ignored
}

// Open returns a Locator backed by the MaxMind-format database at path ("" for none) that
// believes CloudFront's viewer headers only on requests carrying originSecret in OriginHeader
// ("": never). Open it once per cold start: the reader maps the file and is safe for concurrent
// use.
func Open(path, originSecret string) (*Locator, error) {
	l := &Locator{}
	if originSecret != "" {
		l.secret = []byte(originSecret)
	}
	if path == "" {
		return l, nil
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: open database: %w", err)
	}
	l.db = db
	return l, nil
}

// throughCloudFront reports whether h came through the stack's CloudFront distribution: it
// carries the origin secret (compared in constant time).
func (l *Locator) throughCloudFront(h http.Header) bool {
	if l == nil || l.secret == nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h.Get(OriginHeader)), l.secret) == 1
}

// Locate returns the location of ip. viewer holds the request's headers; they describe ip only
// when the request came through the stack's CloudFront distribution and sameClient is true (the
// end user called Pulse through CloudFront), since a backend that reports its users' sessions
// has CloudFront headers of its own location, not theirs.
func (l *Locator) Locate(ip netip.Addr, viewer http.Header, sameClient bool) pulse.Location {
	if sameClient && l.throughCloudFront(viewer) {
		if loc, ok := fromCloudFront(viewer); ok {
			return loc
		}
	}
	if l != nil && l.db != nil && ip.IsValid() {
		if loc, ok := l.lookup(ip); ok {
			return loc
		}
	}
	return pulse.Location{}
}

// fromCloudFront reads CloudFront's viewer headers (present when the distribution forwards
// them to the origin).
func fromCloudFront(h http.Header) (pulse.Location, bool) {
	code := strings.ToUpper(strings.TrimSpace(h.Get("CloudFront-Viewer-Country")))
	if len(code) != 2 {
		return pulse.Location{}, false
	}
	loc := pulse.Location{CountryCode: code, City: clean(h.Get("CloudFront-Viewer-City"))}
	if c, ok := countries[code]; ok {
		loc.Country, loc.Continent = c.name, c.continent
	} else if n := clean(h.Get("CloudFront-Viewer-Country-Name")); n != "" {
		loc.Country = n
	}
	loc.Latitude = coordinate(h.Get("CloudFront-Viewer-Latitude"), 90)
	loc.Longitude = coordinate(h.Get("CloudFront-Viewer-Longitude"), 180)
	return loc, true
}

// record is the part of a GeoIP2/GeoLite2 City record Pulse uses.
type record struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

func (l *Locator) lookup(ip netip.Addr) (pulse.Location, bool) {
	var r record
	res := l.db.Lookup(ip.Unmap())
	if !res.Found() || res.Decode(&r) != nil {
		return pulse.Location{}, false
	}
	loc := pulse.Location{
		CountryCode: r.Country.ISOCode,
		Country:     r.Country.Names["en"],
		City:        r.City.Names["en"],
		Continent:   r.Continent.Names["en"],
	}
	if c, ok := countries[r.Country.ISOCode]; ok {
		loc.Country = c.name // one spelling of each country, whatever the source
		if loc.Continent == "" {
			loc.Continent = c.continent
		}
	}
	if r.Location.Latitude != nil && r.Location.Longitude != nil {
		loc.Latitude = strconv.FormatFloat(*r.Location.Latitude, 'f', -1, 64)
		loc.Longitude = strconv.FormatFloat(*r.Location.Longitude, 'f', -1, 64)
	}
	return loc, true
}

// coordinate returns s when it is a decimal number within ±limit, else "".
func coordinate(s string, limit float64) string {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < -limit || f > limit || strings.ContainsAny(s, "eEnN") {
		return ""
	}
	return s
}

// clean keeps header text printable and short: it is stored and shown to API clients.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(strings.TrimSpace(s), ""))
	if len(s) > 128 {
		s = strings.ToValidUTF8(s[:128], "")
	}
	return s
}

// Country returns the name and continent Pulse shows for an ISO 3166-1 alpha-2 code.
func Country(code string) (name, continent string, ok bool) {
	c, ok := countries[strings.ToUpper(code)]
	return c.name, c.continent, ok
}
