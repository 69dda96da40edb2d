package streams

import (
	"encoding/json"
	"fmt"
)

// Pattern is one filter of an event source mapping's FilterCriteria: Lambda's event-pattern
// syntax, in the subset Pulse's template uses — nested objects, lists of exact values, and
// {"exists": true|false} on leaves. Anything else is refused when parsed, so that a filter the
// stand-in cannot judge fails loudly instead of matching wrongly.
type Pattern struct{ m map[string]any }

// ParsePattern parses one filter's Pattern string.
func ParsePattern(s string) (Pattern, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return Pattern{}, fmt.Errorf("streams: filter pattern %q: %w", s, err)
	}
	if err := check(m); err != nil {
		return Pattern{}, fmt.Errorf("streams: filter pattern %q: %w", s, err)
	}
	return Pattern{m}, nil
}

func check(m map[string]any) error {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			if err := check(x); err != nil {
				return err
			}
		case []any:
			for _, e := range x {
				switch y := e.(type) {
				case string, float64, bool, nil:
				case map[string]any:
					if _, ok := y["exists"].(bool); !ok || len(y) != 1 {
						return fmt.Errorf("%s: only exact values and exists are supported, got %v", k, y)
					}
				default:
					return fmt.Errorf("%s: unsupported matcher %v", k, y)
				}
			}
		default:
			return fmt.Errorf("%s: want an object or a list, got %v", k, v)
		}
	}
	return nil
}

// Match reports whether doc (a record as JSON) matches: every key of the pattern matches.
func (p Pattern) Match(doc map[string]any) bool { return match(p.m, doc) }

func match(pattern, doc map[string]any) bool {
	for k, want := range pattern {
		got, present := doc[k]
		switch w := want.(type) {
		case map[string]any:
			sub, _ := got.(map[string]any) // absent or not an object: its leaves are absent
			if !match(w, sub) {
				return false
			}
		case []any:
			if !leaf(w, got, present) {
				return false
			}
		}
	}
	return true
}

// leaf matches one leaf value against a list of matchers (any of them).
func leaf(matchers []any, got any, present bool) bool {
	if _, isObject := got.(map[string]any); isObject {
		present = false // exists and values apply to leaves only
	}
	for _, m := range matchers {
		switch x := m.(type) {
		case map[string]any:
			if x["exists"].(bool) == present {
				return true
			}
		default:
			if present && got == x {
				return true
			}
		}
	}
	return false
}
