package pulse

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// An accepted ID can never reach another key: no delimiter, no separator, printable ASCII,
// within the length limit.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"alice", "10000000000001", "a#b", "a/b", "", "é", strings.Repeat("x", 129), "a\x00b", "USER#1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidID(id) != nil {
			return
		}
		if id == "" || len(id) > MaxIDLength || strings.ContainsAny(id, "#/ \\?%") || !utf8.ValidString(id) {
			t.Fatalf("ValidID accepted %q", id)
		}
		for _, r := range id {
			if r < 0x21 || r > 0x7e {
				t.Fatalf("ValidID accepted %q with %U", id, r)
			}
		}
	})
}
