package publish

import (
	"fmt"
	"reflect"
	"testing"
)

// A batch is cut into PutEvents calls of at most 10 entries, never two of one session in one
// call, and the first record's entries in a call of their own.
func TestCalls(t *testing.T) {
	mk := func(spec ...string) []entry { // "seq/key"
		var out []entry
		for _, s := range spec {
			var seq, key string
			fmt.Sscanf(s, "%1s/%s", &seq, &key)
			out = append(out, entry{seq: seq, key: key})
		}
		return out
	}
	var twelve []string
	for i := range 12 {
		twelve = append(twelve, fmt.Sprintf("%c/S%d", 'a'+i, i))
	}
	for _, c := range []struct {
		name    string
		entries []entry
		want    []span
	}{
		{"empty", nil, nil},
		{"one record", mk("a/S1"), []span{{0, 1}}},
		{"the first record apart", mk("a/S1", "b/S2", "c/S3"), []span{{0, 1}, {1, 2}}},
		{"a start and its new device apart", mk("a/S1", "a/S1", "b/S2", "b/S2", "c/S3"), []span{{0, 1}, {1, 1}, {2, 1}, {3, 2}}},
		{"a start and an end apart", mk("a/S0", "b/S1", "c/S2", "d/S1"), []span{{0, 1}, {1, 2}, {3, 1}}},
		{"ten at most", mk(twelve...), []span{{0, 1}, {1, 10}, {11, 1}}},
	} {
		if got := calls(c.entries); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
