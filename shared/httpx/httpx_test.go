package httpx

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

func TestDecodeJSONIsStrict(t *testing.T) {
	for _, tc := range []struct {
		body, contentType string
		want              string // error code, "" for accepted
	}{
		{`{"a":"x","b":{"c":[1,{"d":2}]}}`, "application/json", ""},
		{`{"a":"x"}`, "application/json; charset=utf-8", ""},
		{`{"a":"x"}`, "application/problem+json", ""},
		{`{"a":"x"}`, "Application/JSON", ""},
		{`{"a":"x"}`, "+jSon", pulse.EUNSUPPORTED}, // found by FuzzBodies: a suffix with no type
		{`{"a":"x"}`, "", pulse.EUNSUPPORTED},
		{`{"a":"x"}`, "text/plain", pulse.EUNSUPPORTED},
		{`{"a":"x"}`, "application/json; charset", pulse.EUNSUPPORTED},
		{`null`, "application/json", pulse.EINVALID},
		{`[]`, "application/json", pulse.EINVALID},
		{`"x"`, "application/json", pulse.EINVALID},
		{`{"a":"x","a":"y"}`, "application/json", pulse.EINVALID},
		{`{"b":{"c":1,"c":2}}`, "application/json", pulse.EINVALID},
		{`{"b":[{"c":1},{"c":2}],"d":{"c":3}}`, "application/json", ""},
		{`{"a":"\xff"}`, "application/json", pulse.EINVALID},
		{`{"a":"x"}{}`, "application/json", pulse.EINVALID},
		{`{}}`, "application/json", pulse.EINVALID}, // found by FuzzBodies: a stray closer after the object
		{"{\"a\":1}] \n", "application/json", pulse.EINVALID},
		{"{\"a\":1} \n\t", "application/json", ""},
		{`{"a":`, "application/json", pulse.EINVALID},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		var v map[string]any
		err := DecodeJSON(r, &v, false)
		if got := pulse.ErrorCode(err); (err == nil && tc.want != "") || (err != nil && got != tc.want) {
			t.Errorf("%q (%s): %v, want %q", tc.body, tc.contentType, err, tc.want)
		}
	}
}
