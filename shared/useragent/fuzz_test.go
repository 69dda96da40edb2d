package useragent

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Whatever the header, parsing never panics and stores only bounded, printable UTF-8.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
		"GSA/", "YaBrowser/;", "UCBrowser/ )", "; wv) Android", "\xff\xfe", "", "a" + strings.Repeat("(", 3000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		d := Parse(ua)
		for _, s := range []string{d.UserAgent, d.Browser, d.Version, d.OS} {
			if !utf8.ValidString(s) || len(s) > MaxLength || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("Parse(%q) stored %q", ua, s)
			}
		}
		if d.MajorVersion < 0 {
			t.Fatalf("Parse(%q): major version %d", ua, d.MajorVersion)
		}
	})
}
