package streams

import (
	"encoding/json"
	"testing"
)

// The stand-in judges filters as Lambda does for the syntax Pulse's template uses, and refuses
// the rest rather than guess.
func TestPattern(t *testing.T) {
	insert := `{"eventName":"INSERT","dynamodb":{"NewImage":{"type":{"S":"session"},"status":{"S":"active"}}}}`
	modify := `{"eventName":"MODIFY","dynamodb":{"OldImage":{"type":{"S":"session"},"status":{"S":"active"}},"NewImage":{"type":{"S":"session"},"status":{"S":"active"}}}}`
	erased := `{"dynamodb":{"OldImage":{"type":{"S":"user"}},"NewImage":{"type":{"S":"user"},"erased":{"N":"17"}}}}`
	for _, c := range []struct {
		pattern, record string
		want            bool
	}{
		{`{"dynamodb":{"NewImage":{"status":{"S":["active"]}}}}`, insert, true},
		{`{"dynamodb":{"NewImage":{"status":{"S":["ended","idle"]}}}}`, insert, false},
		{`{"dynamodb":{"OldImage":{"type":{"S":[{"exists":false}]}}}}`, insert, true}, // no old image at all
		{`{"dynamodb":{"OldImage":{"type":{"S":[{"exists":false}]}}}}`, modify, false},
		{`{"dynamodb":{"OldImage":{"type":{"S":[{"exists":true}]}}}}`, modify, true},
		{`{"dynamodb":{"NewImage":{"erased":{"N":[{"exists":true}]}},"OldImage":{"erased":{"N":[{"exists":false}]}}}}`, erased, true},
		{`{"dynamodb":{"NewImage":{"erased":{"N":[{"exists":true}]}}}}`, insert, false},
		{`{"dynamodb":{"NewImage":{"type":[{"exists":true}]}}}`, insert, false}, // exists applies to leaves only
		{`{"eventName":["INSERT"]}`, insert, true},
	} {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(c.record), &doc); err != nil {
			t.Fatal(err)
		}
		if got := p.Match(doc); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.pattern, c.record, got, c.want)
		}
	}
	for _, bad := range []string{`{"a":[{"prefix":"x"}]}`, `{"a":[{"anything-but":["x"]}]}`, `{"a":"x"}`, `not json`} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%s) accepted what the stand-in cannot judge", bad)
		}
	}
}
