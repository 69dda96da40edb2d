// Package uuids makes random version-4 UUIDs from a seeded source, as real tenants' user and
// session IDs are, for the tests and benchmarks that measure Pulse on realistic data.
package uuids

import (
	"encoding/hex"
	"math/rand/v2"
)

// Random returns n version-4 UUIDs (lowercase, canonical) drawn from rnd.
func Random(rnd *rand.Rand, n int) []string {
	out := make([]string, n)
	for i := range out {
		var b [16]byte
		for j := range b {
			b[j] = byte(rnd.UintN(256))
		}
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
		h := hex.EncodeToString(b[:])
		out[i] = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return out
}
