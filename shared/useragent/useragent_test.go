package useragent

import (
	"strings"
	"testing"
)

// Real User-Agent strings of the browsers that make up most traffic, and of the families the
// wrapped parser misreads without the pre-checks.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, ua, browser, version, os string
		major                          int
	}{
		{"chrome linux (spec example)", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36", "Chrome", "134.0.0.0", "Linux", 134},
		{"edge windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86", "Edge", "131.0.2903.86", "Windows", 131},
		{"safari macos", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "Safari", "17.4.1", "macOS", 17},
		{"firefox windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "133.0", "Windows", 133},
		{"chrome android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.135 Mobile Safari/537.36", "Chrome", "131.0.6778.135", "Android", 131},
		{"safari ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "18.1", "iOS", 18},
		{"opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0", "Opera", "116.0.0.0", "Windows", 116},
		{"google app ios", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/323.0.647062479 Mobile/15E148 Safari/604.1", "Google App", "323.0.647062479", "iOS", 323},
		{"yandex", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36", "Yandex Browser", "24.4.0.0", "Windows", 24},
		{"uc browser", "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2185 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36", "UC Browser", "13.4.0.1306", "Android", 13},
		{"android webview", "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36", "Android WebView", "120.0.6099.230", "Android", 120},
		{"ie 11", "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer", "11.0", "Windows", 11},
		{"curl", "curl/8.5.0", "curl", "8.5.0", "", 8},
		{"empty", "", "", "", "", 0},
		{"control bytes dropped", "\x00\xffcurl/8.5.0\n", "curl", "8.5.0", "", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Parse(tc.ua)
			if d.Browser != tc.browser || d.Version != tc.version || d.MajorVersion != tc.major || d.OS != tc.os {
				t.Errorf("Parse(%q) = %q %q %d %q, want %q %q %d %q", tc.ua, d.Browser, d.Version, d.MajorVersion, d.OS, tc.browser, tc.version, tc.major, tc.os)
			}
		})
	}
}

func TestParseCutsLongHeaders(t *testing.T) {
	d := Parse("Mozilla/5.0 " + strings.Repeat("x", 5000))
	if got := len(d.UserAgent); got != MaxLength {
		t.Errorf("len(UserAgent) = %d, want %d", got, MaxLength)
	}
}
