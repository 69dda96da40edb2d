package store

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// Days counted in any order (a history loaded out of order) leave the same gap buckets as the
// same days counted in order: inserting a day before a later one moves the later one's gap.
func TestCoverDayInAnyOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var days []string
	for d := range 80 {
		if rnd.IntN(3) == 0 {
			days = append(days, addDays("2026-01-01", d))
		}
	}
	inOrder := counts{}
	for i, d := range days {
		prev := ""
		if i > 0 {
			prev = days[i-1]
		}
		inOrder.coverDay(d, prev, "")
	}
	shuffled := slices.Clone(days)
	rnd.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	anyOrder, seen := counts{}, []string{}
	for _, d := range shuffled {
		prev, next := "", ""
		for _, s := range seen {
			if s < d && s > prev {
				prev = s
			}
			if s > d && (next == "" || s < next) {
				next = s
			}
		}
		anyOrder.coverDay(d, prev, next)
		seen = append(seen, d)
	}
	for day, attrs := range anyOrder { // a moved gap leaves zeros behind
		for a, n := range attrs {
			if n == 0 {
				delete(attrs, a)
			}
		}
		if len(attrs) == 0 {
			delete(anyOrder, day)
		}
	}
	if !reflect.DeepEqual(inOrder, anyOrder) {
		t.Errorf("in order %v\nany order %v", inOrder, anyOrder)
	}
}
