package admin

import (
	"net/http/httptest"
	"testing"

	"github.com/pulse-sessions/pulse/shared/pulse"
)

// limit and offset are accepted only in range, and anything else is EINVALID (the MD031 body).
func FuzzPaging(f *testing.F) {
	for _, q := range []string{"", "limit=10", "limit=0", "limit=2001", "offset=-1", "limit=1&limit=2", "limit=%2B5", "limit=1e3", "offset=99999999999999999999"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/settings/users/active-users", nil)
		r.URL.RawQuery = query
		limit, offset, err := paging(r)
		if err != nil {
			if pulse.ErrorCode(err) != pulse.EINVALID {
				t.Fatalf("paging(%q): %v", query, err)
			}
			return
		}
		if limit < 1 || limit > MaxLimit || offset < 0 {
			t.Fatalf("paging(%q) = %d, %d", query, limit, offset)
		}
	})
}
