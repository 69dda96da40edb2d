package bench

import (
	"testing"
	"time"
)

// Calls in flight at once are one wait, not two: their sum would make Pulse's own time, the
// request's time minus this, negative for a request that reads partitions in parallel.
func TestDDBClockCountsOverlappingCallsOnce(t *testing.T) {
	var c ddbClock
	start := time.Now()
	c.begin()
	c.begin()
	time.Sleep(5 * time.Millisecond)
	c.end()
	c.end()
	wall := time.Since(start)
	if got := c.Total(); got < 5*time.Millisecond || got > wall {
		t.Fatalf("two overlapping calls of 5ms over %s of wall time measured %s, want between 5ms and the wall time", wall, got)
	}
	// A call after the others adds its own time.
	c.begin()
	time.Sleep(time.Millisecond)
	c.end()
	if got := c.Total(); got < 6*time.Millisecond || got > time.Since(start) {
		t.Fatalf("after a third call: %s, want at least 6ms and at most the wall time %s", got, time.Since(start))
	}
}
