package geo

import (
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// writeDB builds a tiny GeoIP2-City-shaped database on documentation ranges (RFC 5737/3849).
func writeDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	add := func(cidr, iso, country, city, continent string, lat, lon float64) {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(iso), "names": mmdbtype.Map{"en": mmdbtype.String(country)}},
			"city":      mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}},
			"continent": mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(continent)}},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon)},
		}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	add("192.0.2.0/24", "US", "United States", "Los Angeles", "North America", 34.043238, -118.250918)
	add("198.51.100.0/24", "DE", "Germany", "Berlin", "Europe", 52.52, 13.405)
	add("2001:db8::/32", "JP", "Japan", "Tokyo", "Asia", 35.6895, 139.69171)
	path := filepath.Join(t.TempDir(), "city.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLocateDatabase(t *testing.T) {
	l, err := Open(writeDB(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.db.Close() // a function keeps its database open for the life of its container
	for _, tc := range []struct {
		ip   string
		want pulse.Location
	}{
		{"192.0.2.7", pulse.Location{CountryCode: "US", Country: "United States of America", City: "Los Angeles", Continent: "North America", Latitude: "34.043238", Longitude: "-118.250918"}},
		{"198.51.100.1", pulse.Location{CountryCode: "DE", Country: "Germany", City: "Berlin", Continent: "Europe", Latitude: "52.52", Longitude: "13.405"}},
		{"2001:db8::1", pulse.Location{CountryCode: "JP", Country: "Japan", City: "Tokyo", Continent: "Asia", Latitude: "35.6895", Longitude: "139.69171"}},
		{"::ffff:192.0.2.9", pulse.Location{CountryCode: "US", Country: "United States of America", City: "Los Angeles", Continent: "North America", Latitude: "34.043238", Longitude: "-118.250918"}},
		{"203.0.113.5", pulse.Location{}}, // not in the database
	} {
		got := l.Locate(netip.MustParseAddr(tc.ip), http.Header{}, true)
		if got != tc.want {
			t.Errorf("Locate(%s) = %+v, want %+v", tc.ip, got, tc.want)
		}
	}
}

func TestLocateCloudFrontFirst(t *testing.T) {
	l, err := Open(writeDB(t), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(OriginHeader, testSecret)
	h.Set("CloudFront-Viewer-Country", "br")
	h.Set("CloudFront-Viewer-City", "São Paulo")
	h.Set("CloudFront-Viewer-Latitude", "-23.5475")
	h.Set("CloudFront-Viewer-Longitude", "-46.63611")
	want := pulse.Location{CountryCode: "BR", Country: "Brazil", City: "São Paulo", Continent: "South America", Latitude: "-23.5475", Longitude: "-46.63611"}
	if got := l.Locate(netip.MustParseAddr("192.0.2.7"), h, true); got != want {
		t.Errorf("with CloudFront headers: got %+v, want %+v", got, want)
	}
	// A backend reporting someone else's session: its own CloudFront headers say nothing of them.
	if got := l.Locate(netip.MustParseAddr("192.0.2.7"), h, false); got.CountryCode != "US" {
		t.Errorf("for another client: got %+v, want the database's US record", got)
	}
}

// testSecret is the origin secret of a stack behind CloudFront.
const testSecret = "0123456789abcdef0123456789abcdef"

// Viewer headers anyone could set: believed only with the origin secret CloudFront adds.
func TestLocateCloudFrontNeedsTheOriginSecret(t *testing.T) {
	h := http.Header{}
	h.Set("CloudFront-Viewer-Country", "FR")
	for _, tc := range []struct {
		name, secret, sent string
	}{
		{"not behind CloudFront", "", ""},
		{"not behind CloudFront, a secret sent anyway", "", testSecret},
		{"behind CloudFront, no secret sent", testSecret, ""},
		{"behind CloudFront, a wrong secret", testSecret, testSecret[:31] + "X"},
		{"behind CloudFront, a prefix of the secret", testSecret, testSecret[:16]},
	} {
		l, err := Open("", tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		h.Set(OriginHeader, tc.sent)
		if got := l.Locate(netip.MustParseAddr("192.0.2.7"), h, true); got != (pulse.Location{}) {
			t.Errorf("%s: got %+v, want no place", tc.name, got)
		}
	}
	l, _ := Open("", testSecret)
	h.Set(OriginHeader, testSecret)
	if got := l.Locate(netip.MustParseAddr("192.0.2.7"), h, true); got.CountryCode != "FR" {
		t.Errorf("with the secret: got %+v, want France", got)
	}
}

func TestLocateCloudFrontRejectsBadCoordinates(t *testing.T) {
	h := http.Header{}
	h.Set(OriginHeader, testSecret)
	h.Set("CloudFront-Viewer-Country", "US")
	h.Set("CloudFront-Viewer-Latitude", "NaN")
	h.Set("CloudFront-Viewer-Longitude", "999")
	l, _ := Open("", testSecret)
	got := l.Locate(netip.Addr{}, h, true)
	if got.Latitude != "" || got.Longitude != "" || got.Continent != "North America" {
		t.Errorf("got %+v, want no coordinates and continent North America", got)
	}
}

func TestLocateNothing(t *testing.T) {
	l, err := Open("", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Locate(netip.MustParseAddr("192.0.2.7"), http.Header{}, true); got != (pulse.Location{}) {
		t.Errorf("without database or headers: got %+v, want empty", got)
	}
}

func TestOpenMissingFile(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.mmdb"), ""); err == nil {
		t.Fatal("Open(missing) succeeded, want an error")
	}
}
