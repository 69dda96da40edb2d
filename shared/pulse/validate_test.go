package pulse

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"2tTEqR7ZNMJ4HGGNa", true},
		{"10000000000001", true},
		{"alice@example.com", true},
		{"96484D319ACC21380CCE026E54807B4D", true},
		{strings.Repeat("a", MaxIDLength), true},
		{"", false},
		{strings.Repeat("a", MaxIDLength+1), false},
		{"a#b", false},
		{"a/b", false},
		{"a b", false},
		{"é", false},
		{"a\x00b", false},
		{"a\nb", false},
		{".", false},
		{"..", false},
		{"...", true},
		{".a", true},
	} {
		err := ValidID(tc.id)
		if got := err == nil; got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestValidRole(t *testing.T) {
	for role, ok := range map[string]bool{"admin": true, "analyst-2": true, "ana:lyst": false, "..": false, "": false} {
		if got := ValidRole(role) == nil; got != ok {
			t.Errorf("ValidRole(%q) ok = %v, want %v", role, got, ok)
		}
	}
}
