package store

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Whatever a client sends as a user agent's browser and OS, or as a viewer country, the key it
// becomes in the user's device memory is a plain map key: the update that stores it builds, and
// names exactly one attribute path below the map.
func FuzzMapKey(f *testing.F) {
	for _, s := range []string{"Chrome", "Mac OS X", "we.ird[0]", "[1", "].", "a.b.c", "#:name", "x[10]", strings.Repeat("é", 40)} {
		f.Add(s, "Linux")
	}
	f.Fuzz(func(t *testing.T, browser, os string) {
		for _, k := range []string{deviceKey(pulse.Device{Browser: browser, OS: os}), mapKey(browser)} {
			if len(k) > 2*60+3 || strings.ContainsAny(k, ".[]#:") {
				t.Fatalf("key %q from %q/%q", k, browser, os)
			}
			if k == "" {
				continue
			}
			expr, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name(attrDevices).AppendName(expression.NameNoDotSplit(k)), expression.Value("2026-01-01"))).Build()
			if err != nil {
				t.Fatalf("key %q: %v", k, err)
			}
			if n := len(expr.Names()); n != 2 {
				t.Fatalf("key %q names %d attributes: %v", k, n, expr.Names())
			}
		}
	})
}
