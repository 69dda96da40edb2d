// Package useragent turns a User-Agent header into the browser family, full version, major
// version and OS that Pulse stores with a session. It wraps github.com/mileusna/useragent
// (no start-up cost, fast on common traffic) and corrects the few families it misreads.
package useragent

import (
	"strconv"
	"strings"

	"github.com/mileusna/useragent"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// MaxLength bounds what is parsed and stored; longer headers are cut (real ones are < 1 KB).
const MaxLength = 1024

// Parse returns the device a User-Agent describes. Unknown parts stay empty.
func Parse(ua string) pulse.Device {
	ua = clean(ua)
	u := useragent.Parse(ua)
	d := pulse.Device{UserAgent: ua, Browser: u.Name, Version: u.Version, OS: u.OS}

	// The wrapped parser reads these families as the engine or host browser they embed.
	switch {
	case strings.Contains(ua, "GSA/"): // Google app on iOS, otherwise read as Safari 604
		d.Browser, d.Version = "Google App", token(ua, "GSA/")
	case strings.Contains(ua, "YaBrowser/"):
		d.Browser, d.Version = "Yandex Browser", token(ua, "YaBrowser/")
	case strings.Contains(ua, "UCBrowser/"): // otherwise read as the Chrome it embeds
		d.Browser, d.Version = "UC Browser", token(ua, "UCBrowser/")
	case strings.Contains(ua, "; wv)") && strings.Contains(ua, "Android"):
		d.Browser, d.Version = "Android WebView", token(ua, "Chrome/")
	case strings.Contains(ua, "Trident/7.0"): // IE 11 dropped "MSIE"; read as "Trident 7.0"
		d.Browser, d.Version = "Internet Explorer", "11.0"
	}
	d.MajorVersion = major(d.Version)
	return d
}

// clean drops control characters and invalid UTF-8 (a header is bytes, the API's JSON is
// text) and cuts the result to MaxLength bytes without splitting a character.
func clean(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	ua = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, ua)
	if len(ua) > MaxLength {
		ua = strings.ToValidUTF8(ua[:MaxLength], "")
	}
	return ua
}

// token returns the version that follows prefix in ua, up to the next space, ';' or ')'.
func token(ua, prefix string) string {
	i := strings.Index(ua, prefix)
	if i < 0 {
		return ""
	}
	rest := ua[i+len(prefix):]
	if j := strings.IndexAny(rest, " ;)"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// major returns the first number of a dotted version, 0 when there is none.
func major(v string) int {
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
