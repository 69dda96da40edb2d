package store

import (
	"slices"
	"testing"
)

// Packing gives back exactly the IDs packed: canonical lowercase UUIDs in 17 bytes, anything
// else (an uppercase UUID, a short ID, non-ASCII) byte for byte, an erased user as "".
func TestPackIDsRoundTrip(t *testing.T) {
	ids := []string{"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3F2504E0-4F89-41D3-9A0C-0305E82C3301", "u1", "",
		"3f2504e0-4f89-41d3-9a0c-0305e82c330", "3f2504e0x4f89-41d3-9a0c-0305e82c3301", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "ünïcødé",
		string(make([]byte, 300))}
	blob, err := packIDs(ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unpackIDs(blob)
	if err != nil || !slices.Equal(got, ids) {
		t.Errorf("round trip: %q, %v; want %q", got, err, ids)
	}
	if packedSize(ids[0]) != 17 || packedSize("u1") != 4 {
		t.Errorf("packed sizes %d and %d, want 17 and 4", packedSize(ids[0]), packedSize("u1"))
	}
	for _, bad := range [][]byte{{1, 2, 3}, {0, 9, 'a'}, {7}} {
		if blob, _ := gzipBytes(bad); true {
			if _, err := unpackIDs(blob); err == nil {
				t.Errorf("%v unpacked without an error", bad)
			}
		}
	}
}

// A day rolled up before the dictionary (a list of IDs) is still read, beside bitmap days.
func TestListRollupStillRead(t *testing.T) {
	blob, err := gzipLines([]string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	it := rollupItem{Day: "2026-03-01", Chunks: 1, Users: blob}
	if it.Format != rollupFormatList {
		t.Fatal("a rollup without fmt is not the list format")
	}
	users, err := gunzipLines(it.Users)
	if err != nil || !slices.Equal(users, []string{"a", "b"}) {
		t.Errorf("list rollup: %q, %v", users, err)
	}
	// A bitmap whose dictionary chunk has another size is not trusted (read from the index).
	bits, _ := gzipBytes([]byte{0b101})
	bm := rollupItem{Format: rollupFormatBitmap, Parts: []string{"U#2026-03-01#000"}, Sizes: []int{3}, Bits: bits}
	if users, ok, err := bm.usersOf(map[string][]string{"U#2026-03-01#000": {"x", "", "z"}}); !ok || err != nil || !slices.Equal(users, []string{"x", "z"}) {
		t.Errorf("bitmap: %q %v %v", users, ok, err)
	}
	if _, ok, _ := bm.usersOf(map[string][]string{"U#2026-03-01#000": {"x", "y"}}); ok {
		t.Error("a bitmap over a chunk of another size was read")
	}
	if _, ok, _ := bm.usersOf(map[string][]string{}); ok {
		t.Error("a bitmap over a missing chunk was read")
	}
}
