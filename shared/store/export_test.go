package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// CountPauses counts the pauses that rounds of contended writes take (they still take them)
// until t ends. The store's tests run one at a time, so no other test's pauses are counted.
func CountPauses(t testing.TB) *atomic.Int64 {
	n, prev := new(atomic.Int64), pauseFor
	pauseFor = func(ctx context.Context, d time.Duration) bool {
		n.Add(1)
		return prev(ctx, d)
	}
	t.Cleanup(func() { pauseFor = prev })
	return n
}
