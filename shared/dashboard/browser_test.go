package dashboard_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/demo"
	"github.com/pulse-sessions/pulse/shared/dashboard"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// chromium finds Debian's Chromium (apt package chromium; .ci/run installs it when missing).
// The tests never skip: without a browser they fail and say how to get one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install Debian's chromium package (apt-get install chromium; .ci/run does) or set CHROMIUM")
	return ""
}

// browser starts a headless Chromium with a fresh profile, the flags this closed network needs,
// and a window of w×h.
func browser(t *testing.T, w, h int) context.Context {
	t.Helper()
	// A fresh profile, removed once the browser is gone (t.TempDir would race its last writes).
	profile, err := os.MkdirTemp("", "pulse-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile), chromedp.WindowSize(w, h),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancel(); cancelA(); _ = os.RemoveAll(profile) })
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(int64(w), int64(h))); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// shots is the git-ignored folder every run's screenshots go to (docs/ keeps one of each view).
func shots(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", ".screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 90)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shots(t), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// stack is make run's stack in-process: the whole API on a local port, DynamoDB Local, the demo
// tenant seeded as of now, and the demo admin's token.
func stack(t *testing.T) (*apptest.Env, string) { return stackWith(t, apptest.Options{}) }

// stackWith is stack with options (a DynamoDB that can be frozen).
func stackWith(t *testing.T, o apptest.Options) (*apptest.Env, string) {
	t.Helper()
	e := apptest.NewWith(t, o)
	now := time.Now().Truncate(time.Second)
	e.Clock.Set(now) // the browser's clock is the real one
	ctx := context.Background()
	if err := demo.Seed(ctx, e.Deps.Store, e.Tenant, now); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, demo.Admin, "dashboard", 0)
	if err != nil {
		t.Fatal(err)
	}
	return e, tok
}

func signIn(user, token string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		return chromedp.Run(ctx,
			chromedp.WaitVisible("#user-id", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("user-id").value = document.getElementById("token").value = ""`, nil),
			chromedp.SendKeys("#user-id", user, chromedp.ByID),
			chromedp.SendKeys("#token", token, chromedp.ByID),
			// A click, as a person would: form.submit() would skip the page's submit handler.
			chromedp.Click("#signin-form button[type=submit]", chromedp.ByQuery),
		)
	})
}

// activeCount is how many sessions the admin API lists as active.
func activeCount(t *testing.T, e *apptest.Env) int {
	t.Helper()
	r := e.Do("GET", "/settings/users/active-users", "", apptest.Key(e.Key)...)
	var body struct{ Result []any }
	r.JSON(t, &body)
	return len(body.Result)
}

// The page, signed in as the demo admin: the active sessions, the charts and the heatmap show
// the demo data; a session searched for lists; revoking removes the row and the session from
// the admin API; the token is the only thing the page keeps, in sessionStorage.
func TestDashboardInBrowser(t *testing.T) {
	e, tok := stack(t)
	ctx := browser(t, 1280, 800)
	want := activeCount(t, e)
	if want < 5 {
		t.Fatalf("the demo has %d active sessions, want several", want)
	}
	var rows int
	if err := chromedp.Run(ctx,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
		chromedp.WaitVisible("#new-chart canvas", chromedp.ByQuery),
		chromedp.WaitVisible("#heatmap tbody td", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#active-table tbody tr").length`, &rows),
	); err != nil {
		t.Fatal(err)
	}
	if rows != want {
		t.Errorf("the table shows %d active sessions, the admin API %d", rows, want)
	}
	var count, heat, legend string
	if err := chromedp.Run(ctx,
		chromedp.Text("#active-count", &count, chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll("#heatmap tbody td")].filter(td => td.textContent !== "").length + ""`, &heat),
		chromedp.Evaluate(`document.querySelector("#dau-chart .u-legend") ? document.querySelector("#dau-chart .u-legend").textContent : ""`, &legend),
	); err != nil {
		t.Fatal(err)
	}
	if count != fmt.Sprintf("(%d)", want) || heat == "0" || !strings.Contains(legend, "MAU") {
		t.Errorf("count %q, %s busy hours in the heatmap, chart legend %q", count, heat, legend)
	}
	screenshot(t, ctx, "active-1280.png")

	// Filtering narrows the table; clearing it brings every row back.
	var filtered int
	if err := chromedp.Run(ctx,
		chromedp.SendKeys("#active-filter", "zzz-nobody", chromedp.ByID),
		// The table redraws once typing pauses (250 ms): wait for it, then count.
		chromedp.Poll(`document.querySelectorAll("#active-table tbody tr").length === 0`, nil, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Evaluate(`document.querySelectorAll("#active-table tbody tr").length`, &filtered),
		chromedp.Evaluate(`(() => { const f = document.querySelector("#active-filter"); f.value = ""; f.dispatchEvent(new Event("input")); return 0 })()`, nil),
	); err != nil {
		t.Fatal(err)
	}
	if filtered != 0 {
		t.Errorf("a filter matching nothing leaves %d rows", filtered)
	}

	// Revoke the first session: its row leaves at once, and the admin API no longer lists it.
	var sid, uid string
	var ok bool
	if err := chromedp.Run(ctx,
		chromedp.AttributeValue("#active-table tbody tr", "data-session", &sid, &ok, chromedp.ByQuery),
		chromedp.AttributeValue("#active-table tbody tr", "data-user", &uid, &ok, chromedp.ByQuery),
		chromedp.Click("#active-table tbody tr button.revoke", chromedp.ByQuery),
	); err != nil || sid == "" {
		t.Fatalf("revoke: %v (session %q)", err, sid)
	}
	if err := chromedp.Run(ctx, chromedp.WaitNotPresent(`#active-table tbody tr[data-session="`+sid+`"]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("the revoked session's row did not leave: %v", err)
	}
	if got := activeCount(t, e); got != want-1 {
		t.Errorf("after revoking in the page the admin API lists %d active sessions, want %d", got, want-1)
	}
	r := e.Do("GET", "/api/users/"+uid+"/sessions/"+sid, "", apptest.Key(e.Key)...)
	if !strings.Contains(string(r.Body), `"end_reason":"revoked"`) {
		t.Errorf("session %s after the page revoked it: %s", sid, r.Body)
	}

	// A user's sessions, ended ones with their reasons.
	var list string
	if err := chromedp.Run(ctx,
		chromedp.SendKeys("#sessions-user", demo.Admin, chromedp.ByID),
		chromedp.Click("#sessions-form button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
		chromedp.Text("#sessions-table", &list, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "ended (revoked)") || !strings.Contains(list, "active") {
		t.Errorf("the admin's sessions show no ended and live ones: %.300s", list)
	}
	screenshot(t, ctx, "sessions-1280.png")

	// Nothing but the user's own token in the page's storage; nothing of it in the logs.
	var storage string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`JSON.stringify({session: Object.keys(sessionStorage).sort(), local: localStorage.length, cookies: document.cookie})`, &storage)); err != nil {
		t.Fatal(err)
	}
	if storage != `{"session":["pulse.token","pulse.user"],"local":0,"cookies":""}` {
		t.Errorf("page storage %s, want the user and the token in sessionStorage only", storage)
	}
	if strings.Contains(e.Logs.String(), tok) || strings.Contains(e.Logs.String(), e.Key) {
		t.Error("a credential appears in the logs")
	}
}

// From store.SnapshotFrom active sessions the list is the scheduled run's snapshot: a session
// revoked elsewhere since stays a row until the next run, and the page's refresh turns its row
// into "Ended …, revoked", with no revoke button, keeping the API's count.
func TestDashboardSnapshotRowEnds(t *testing.T) {
	e, tok := stack(t)
	now := e.Clock.Now()
	p := e.Deps.Config.Policy
	var sessions []*pulse.Session
	for i := range store.SnapshotFrom {
		init, last := now.Add(-2*time.Hour+time.Duration(i)*time.Second), now.Add(-time.Minute)
		sessions = append(sessions, &pulse.Session{TenantID: e.Tenant, UserID: fmt.Sprintf("bulk%04d", i), ID: fmt.Sprintf("B%04d", i), Key: "K",
			ClientIDs: []string{"web"}, InitiatedAt: init, LastActivity: last, ExpiresAt: p.Expiry(last, init.Add(p.MaxLifetime)), HardExpires: init.Add(p.MaxLifetime),
			Device: pulse.Device{Browser: "Chrome", Version: "134.0.0.0", MajorVersion: 134, OS: "Linux"}})
	}
	if err := e.Deps.Store.Import(context.Background(), nil, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	if took, _, err := e.Deps.Store.TakeActiveSnapshots(context.Background(), func() bool { return false }); err != nil || took != 1 {
		t.Fatalf("the run took %d snapshots, %v; want the tenant's", took, err)
	}
	ctx := browser(t, 1280, 800)
	var sid, uid, count string
	var ok bool
	if err := chromedp.Run(ctx,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr button.revoke", chromedp.ByQuery),
		chromedp.AttributeValue("#active-table tbody tr", "data-session", &sid, &ok, chromedp.ByQuery),
		chromedp.AttributeValue("#active-table tbody tr", "data-user", &uid, &ok, chromedp.ByQuery),
		chromedp.Text("#active-count", &count, chromedp.ByID),
	); err != nil || sid == "" {
		t.Fatalf("the active list: %v (first session %q)", err, sid)
	}
	if r := e.Do("DELETE", "/api/users/"+uid+"/sessions/"+sid, "", apptest.Key(e.Key)...); r.Status != 204 {
		t.Fatalf("revoke through the API: %d %s", r.Status, r.Body)
	}
	row := `#active-table tbody tr[data-session="` + sid + `"]`
	var last, after string
	var buttons int
	if err := chromedp.Run(ctx,
		// Pausing and resuming reloads the list at once, as its 30-second refresh would.
		chromedp.Click("#active-pause", chromedp.ByID),
		chromedp.Click("#active-pause", chromedp.ByID),
		chromedp.Poll(`(document.querySelector(`+strconv.Quote(row)+`) || {}).dataset?.status === "ended"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text(row+" td:last-child", &last, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll(`+strconv.Quote(row+" button.revoke")+`).length`, &buttons),
		chromedp.Text("#active-count", &after, chromedp.ByID),
	); err != nil {
		t.Fatalf("the revoked session's row: %v", err)
	}
	if !strings.HasPrefix(last, "Ended ") || !strings.HasSuffix(last, ", revoked") || buttons != 0 || after != count {
		t.Errorf("the row of a session revoked since the snapshot ends %q with %d revoke buttons, count %s (before %s); want \"Ended …, revoked\", none, the same count", last, buttons, after, count)
	}
}

// A wrong token says so on the sign-in form, and nothing is kept.
func TestDashboardWrongToken(t *testing.T) {
	e, _ := stack(t)
	ctx := browser(t, 1280, 800)
	var msg, storage string
	if err := chromedp.Run(ctx,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, "not-the-token"),
		chromedp.WaitVisible("#signin-error", chromedp.ByID),
		chromedp.Text("#signin-error", &msg, chromedp.ByID),
		chromedp.Evaluate(`Object.keys(sessionStorage).join(",")`, &storage),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "do not match a valid token") || storage != "" {
		t.Errorf("error %q, storage %q", msg, storage)
	}
	screenshot(t, ctx, "wrong-token-1280.png")
}

// The layout holds on a laptop and on a phone: nothing wider than the window (tables scroll in
// their own box), every view on screen. One screenshot of each view per size; the 1280 ones are
// copied under docs/ for the README.
func TestDashboardLayout(t *testing.T) {
	e, tok := stack(t)
	for _, size := range []struct{ w, h int }{{1280, 800}, {390, 844}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			ctx := browser(t, size.w, size.h)
			var overflow bool
			var wide string
			if err := chromedp.Run(ctx,
				chromedp.Navigate(e.URL+"/dashboard"),
				signIn(demo.Admin, tok),
				chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
				chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
				chromedp.WaitVisible("#heatmap tbody td", chromedp.ByQuery),
				chromedp.SendKeys("#sessions-user", demo.Admin, chromedp.ByID),
				chromedp.Click("#sessions-form button[type=submit]", chromedp.ByQuery),
				chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth`, &overflow),
				chromedp.Evaluate(`[...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(el => el.tagName + "#" + el.id + "." + el.className + " " + Math.round(el.getBoundingClientRect().right)).join(", ")`, &wide),
			); err != nil {
				t.Fatal(err)
			}
			if overflow {
				t.Errorf("the page is wider than the %d px window: %s", size.w, wide)
			}
			// On a phone, rows are cards with their column's name, and the heatmap scrolls under
			// fixed day labels.
			if size.w < 600 {
				var card, label string
				var pinned bool
				if err := chromedp.Run(ctx,
					chromedp.Evaluate(`getComputedStyle(document.querySelector("#active-table tbody tr")).display`, &card),
					chromedp.Evaluate(`getComputedStyle(document.querySelector("#active-table tbody td:nth-child(2)"), "::before").content`, &label),
					chromedp.ScrollIntoView("#heatmap", chromedp.ByID),
					chromedp.Evaluate(`(() => { const box = document.getElementById("heatmap").parentElement; box.scrollLeft = box.scrollWidth;
						const day = document.querySelector("#heatmap tbody th").getBoundingClientRect();
						return box.scrollLeft > 0 && day.left >= box.getBoundingClientRect().left - 1 && day.width > 0 })()`, &pinned),
				); err != nil {
					t.Fatal(err)
				}
				if card != "block" || label != `"Browser"` || !pinned {
					t.Errorf("on a phone: rows display %q (want block), a cell's label %s (want \"Browser\"), day labels pinned while the heatmap scrolls: %v", card, label, pinned)
				}
			}
			for _, view := range []string{"active", "activity", "hours", "sessions"} {
				var png []byte
				if err := chromedp.Run(ctx, chromedp.ScrollIntoView("#"+view, chromedp.ByID), chromedp.Screenshot("#"+view, &png, chromedp.ByID)); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s-%d.png", view, size.w)
				if err := os.WriteFile(filepath.Join(shots(t), name), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// The page is served with a strict CSP and is never cached; assets carry their content's hash
// and are cached for a year; an unknown asset is 404. The page asks for nothing of another origin.
func TestDashboardServing(t *testing.T) {
	e := apptest.New(t)
	r := e.Do("GET", "/dashboard", "")
	if r.Status != 200 || r.Header.Get("Content-Security-Policy") != dashboard.CSP || r.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("page: %d, CSP %q, Cache-Control %q", r.Status, r.Header.Get("Content-Security-Policy"), r.Header.Get("Cache-Control"))
	}
	page := string(r.Body)
	if strings.Contains(page, "{{asset") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("the page has an unresolved asset or another origin: %.400s", page)
	}
	assets := 0
	for _, part := range strings.Split(page, `"/dashboard/assets/`)[1:] {
		name := part[:strings.IndexByte(part, '"')]
		a := e.Do("GET", "/dashboard/assets/"+name, "")
		if a.Status != 200 || a.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(a.Body) == 0 {
			t.Errorf("asset %s: %d, Cache-Control %q, %d bytes", name, a.Status, a.Header.Get("Cache-Control"), len(a.Body))
		}
		// With nosniff, a browser runs a script and applies a style only under their own types.
		want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[filepath.Ext(name)]
		if got := a.Header.Get("Content-Type"); want == "" || got != want {
			t.Errorf("asset %s: Content-Type %q, want %q", name, got, want)
		}
		assets++
	}
	if assets != 4 { // the page's script and style, the chart library's script and style
		t.Errorf("%d assets in the page, want 4 (is shared/dashboard/web/vendor there? make assets)", assets)
	}
	if r := e.Do("GET", "/dashboard/assets/app.js", ""); r.Status != 404 {
		t.Errorf("an asset by its unfingerprinted name: %d, want 404", r.Status)
	}
}

// leftovers says what of a signed-in user's views is still in the page: rows, charts, heatmap
// cells, and any of the given texts anywhere in it.
func leftovers(t *testing.T, ctx context.Context, texts ...string) string {
	t.Helper()
	var counts string
	var page string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`["#active-table tbody tr", "#dau-chart *", "#new-chart *", "#heatmap td", "#sessions-table tbody tr"].map(q => q + ": " + document.querySelectorAll(q).length).join(", ")`, &counts),
		chromedp.Evaluate(`document.body.innerText + " " + document.getElementById("active-count").textContent`, &page),
	); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, text := range texts {
		if text != "" && strings.Contains(page, text) {
			found = append(found, text)
		}
	}
	if counts == "#active-table tbody tr: 0, #dau-chart *: 0, #new-chart *: 0, #heatmap td: 0, #sessions-table tbody tr: 0" && len(found) == 0 {
		return ""
	}
	return fmt.Sprintf("%s; texts still shown: %q", counts, found)
}

// Signing out, or being signed out by a 401, clears every view: the next user, here one with no
// permission at all, sees none of the previous one's sessions, IPs, charts, heatmap or user
// sessions beneath the messages that say what they lack.
func TestDashboardSignOutIsolation(t *testing.T) {
	e, tok := stack(t)
	ctx := context.Background()
	if r := e.Do("PUT", "/api/users/visitor", `{"name":"Visitor","type":"Member","roles":[]}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatal(r.Status)
	}
	visitor, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, "visitor", "dashboard", 0)
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t, 1280, 800)
	var firstUser, firstIP, sessionID string
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
		chromedp.WaitVisible("#heatmap tbody td", chromedp.ByQuery),
		chromedp.SendKeys("#sessions-user", demo.Admin, chromedp.ByID),
		chromedp.Click("#sessions-form button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
		chromedp.Text("#active-table tbody tr td:nth-child(1)", &firstUser, chromedp.ByQuery),
		chromedp.Text("#active-table tbody tr td:nth-child(5)", &firstIP, chromedp.ByQuery),
		chromedp.Text("#sessions-table tbody tr td:nth-child(1)", &sessionID, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if firstIP == "" || sessionID == "" {
		t.Fatalf("nothing to look for: user %q, IP %q, session %q", firstUser, firstIP, sessionID)
	}
	var msg string
	if err := chromedp.Run(b,
		chromedp.Click("#signout", chromedp.ByID),
		chromedp.WaitVisible("#signin", chromedp.ByID),
		signIn("visitor", visitor),
		chromedp.WaitVisible("#app", chromedp.ByID),
		chromedp.Poll(`document.getElementById("perm-note").textContent.includes("none")`, nil),
		chromedp.Text("#perm-note", &msg, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, b, firstUser, firstIP, sessionID, demo.Admin); left != "" {
		t.Errorf("signed in as a user without permissions after the admin signed out: %s", left)
	}
	if !strings.Contains(msg, "view-active-users") {
		t.Errorf("the page says %q, want the permissions the user lacks", msg)
	}
	screenshot(t, b, "signed-out-isolation-1280.png")

	// Signed out by a 401: the admin's token is revoked while the page shows their data.
	if err := chromedp.Run(b,
		chromedp.Click("#signout", chromedp.ByID),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.WaitVisible("#heatmap tbody td", chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if err := e.Deps.Store.RevokeToken(ctx, e.Tenant, demo.Admin, "dashboard"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(b,
		chromedp.SetValue("#range", "7", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("range").dispatchEvent(new Event("change"))`, nil),
		chromedp.WaitVisible("#signin-error", chromedp.ByID),
		chromedp.Text("#signin-error", &msg, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, b, firstUser, firstIP, sessionID); left != "" || !strings.Contains(msg, "refused") {
		t.Errorf("after a 401 (%q): %s", msg, left)
	}
}

// freezing holds every DynamoDB read while armed, until the request is abandoned: an API that
// hangs (a stand-in for a network or a table that stops answering).
type freezing struct {
	store.API
	armed *atomic.Bool
}

func (f freezing) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.armed.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.API.GetItem(ctx, in, o...)
}

// A frozen API: every request gives up after its timeout and the view says so with a retry —
// no endless "Loading…", no old chart under a new period, and a revoke sent into the hang says
// it may or may not have been applied. Retried once the API answers, the view loads.
func TestDashboardFrozenAPI(t *testing.T) {
	var armed atomic.Bool
	e, tok := stackWith(t, apptest.Options{WrapDB: func(api store.API) store.API { return freezing{api, &armed} }})
	b := browser(t, 1280, 800)
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	var activity, active string
	start := time.Now()
	if err := chromedp.Run(b,
		chromedp.SetValue("#range", "7", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("range").dispatchEvent(new Event("change"))`, nil),
		chromedp.Click("#active-table tbody tr button.revoke", chromedp.ByQuery),
		chromedp.WaitVisible("#activity-status button.retry", chromedp.ByQuery),
		chromedp.WaitVisible("#active-status button.retry", chromedp.ByQuery),
		chromedp.Text("#activity-status", &activity, chromedp.ByID),
		chromedp.Text("#active-status", &active, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 14*time.Second || took > 30*time.Second {
		t.Errorf("the views gave up after %v, want the 15 s timeout", took)
	}
	if !strings.Contains(activity, "did not answer within 15 s") || !strings.Contains(active, "may or may not have been applied") {
		t.Errorf("activity says %q, active says %q", activity, active)
	}
	var charts int
	if err := chromedp.Run(b, chromedp.Evaluate(`document.querySelectorAll("#dau-chart canvas").length`, &charts)); err != nil {
		t.Fatal(err)
	}
	if charts != 0 {
		t.Error("the 30-day chart still shows under the 7-day period that failed to load")
	}
	screenshot(t, b, "frozen-1280.png")
	armed.Store(false)
	if err := chromedp.Run(b,
		chromedp.Click("#activity-status button.retry", chromedp.ByQuery),
		chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("activity-status").textContent === ""`, nil),
	); err != nil {
		t.Fatalf("retry after the API came back: %v", err)
	}
}

// axe runs axe-core (npm, pinned in package.json) in the page and returns its serious and
// critical violations, one line each: rule, impact, how many elements, the first of them.
func axe(t *testing.T, ctx context.Context) []string {
	t.Helper()
	root, err := ddblocal.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is not installed (make tools installs it from package-lock.json): %v", err)
	}
	var found []string
	// Injected through the DevTools protocol, as a test tool: the page's CSP binds the page, not
	// the browser's debugger.
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(string(src), nil),
		chromedp.Evaluate(`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
			.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.id + " (" + v.impact + ", " + v.nodes.length + " elements, e.g. " + v.nodes[0].target.join(" ") + "): " + v.help))`,
			&found, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
	); err != nil {
		t.Fatal(err)
	}
	return found
}

// axe-core finds no serious or critical violation in any view, at 1280×800 and on a phone:
// the sign-in form, a wrong token's message, and every view of a signed-in admin with data.
func TestDashboardAccessibility(t *testing.T) {
	e, tok := stack(t)
	for _, size := range []struct{ w, h int }{{1280, 800}, {390, 844}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			ctx := browser(t, size.w, size.h)
			check := func(view string) {
				t.Helper()
				for _, v := range axe(t, ctx) {
					t.Errorf("%s: %s", view, v)
				}
			}
			if err := chromedp.Run(ctx, chromedp.Navigate(e.URL+"/dashboard"), chromedp.WaitVisible("#signin-form", chromedp.ByID)); err != nil {
				t.Fatal(err)
			}
			check("sign-in")
			if err := chromedp.Run(ctx, signIn(demo.Admin, "not-the-token"), chromedp.WaitVisible("#signin-error", chromedp.ByID)); err != nil {
				t.Fatal(err)
			}
			check("wrong token")
			if err := chromedp.Run(ctx,
				signIn(demo.Admin, tok),
				chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
				chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
				chromedp.WaitVisible("#heatmap tbody td", chromedp.ByQuery),
				chromedp.SendKeys("#sessions-user", demo.Admin, chromedp.ByID),
				chromedp.Click("#sessions-form button[type=submit]", chromedp.ByQuery),
				chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
			); err != nil {
				t.Fatal(err)
			}
			check("signed in, every view")
		})
	}
}

// The page asks the API what the signed-in user may use and shows only that: a user whose role
// holds view-active-users alone sees the active sessions without revoke buttons, and no other
// view or link to one; the page says what is missing.
func TestDashboardPermissions(t *testing.T) {
	e, _ := stack(t)
	ctx := context.Background()
	if err := e.Deps.Store.Grant(ctx, e.Tenant, "support", pulse.PermViewActiveUsers); err != nil {
		t.Fatal(err)
	}
	if r := e.Do("PUT", "/api/users/helper", `{"name":"Helper","roles":["support"]}`, apptest.Key(e.Key)...); r.Status != 201 {
		t.Fatal(r.Status)
	}
	tok, _, err := e.Deps.Store.CreateToken(ctx, e.Tenant, "helper", "dashboard", 0)
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t, 1280, 800)
	var buttons int
	var shown, note string
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn("helper", tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#active-table button.revoke").length`, &buttons),
		chromedp.Evaluate(`["active", "activity", "hours", "sessions"].filter(v => !document.getElementById(v).hidden &&
			!document.querySelector('.tabs a[data-view="' + v + '"]').hidden).join(",")`, &shown),
		chromedp.Text("#perm-note", &note, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if buttons != 0 || shown != "active" || !strings.Contains(note, "revoke-sessions") {
		t.Errorf("%d revoke buttons, views shown %q, note %q; want none, only active, and what is missing", buttons, shown, note)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe: %s", v)
	}
	screenshot(t, b, "permissions-1280.png")
}

// West and east of UTC the charts keep the tenant's days: the legend shows the latest day's
// date (the tenant's today, UTC for the demo) and values without hovering, never the day before
// drawn at 4 pm in Los Angeles; the page names both zones.
func TestDashboardTimeZones(t *testing.T) {
	e, tok := stack(t)
	for _, zone := range []string{"America/Los_Angeles", "Asia/Tokyo"} {
		t.Run(zone, func(t *testing.T) {
			ctx := browser(t, 1280, 800)
			var day, dau, zones string
			if err := chromedp.Run(ctx,
				emulation.SetTimezoneOverride(zone),
				chromedp.Navigate(e.URL+"/dashboard"),
				signIn(demo.Admin, tok),
				chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
				chromedp.Text("#dau-chart .u-legend .u-series:nth-child(1) .u-value", &day, chromedp.ByQuery),
				chromedp.Text("#dau-chart .u-legend .u-series:nth-child(2) .u-value", &dau, chromedp.ByQuery),
				chromedp.Text("#zones", &zones, chromedp.ByID),
			); err != nil {
				t.Fatal(err)
			}
			today := time.Now().UTC().Format(time.DateOnly) // the demo tenant's days are UTC's
			if day != today || dau == "" || dau == "–" || !strings.Contains(zones, zone) || !strings.Contains(zones, "UTC") {
				t.Errorf("legend: day %q (want %s), DAU %q; zones note %q", day, today, dau, zones)
			}
			screenshot(t, ctx, "activity-"+strings.ReplaceAll(zone, "/", "-")+".png")
		})
	}
}

// A period of dates picked (Dates…): the charts show exactly those days, their last day's DAU the
// API's, in Los Angeles as in UTC; days the API refuses (before the retention) say why.
func TestDashboardDateRange(t *testing.T) {
	e, tok := stack(t)
	today := time.Now().UTC()
	start, end := today.AddDate(0, 0, -9).Format(time.DateOnly), today.AddDate(0, 0, -5).Format(time.DateOnly)
	r := e.Do("GET", "/api/analytics/active-users?start="+start+"&end="+end, "", apptest.Key(e.Key)...)
	var counts struct {
		Days []struct {
			Date string `json:"date"`
			DAU  int    `json:"dau"`
		} `json:"days"`
	}
	r.JSON(t, &counts)
	if len(counts.Days) != 5 {
		t.Fatalf("the API answers %d days for %s–%s", len(counts.Days), start, end)
	}
	pick := func(id, value string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`(() => { const el = document.getElementById(%q); el.value = %q; el.dispatchEvent(new Event("change")); return 0 })()`, id, value), nil)
	}
	// Every change loads a period (custom: the last 30 days, then the start picked, then the end):
	// the answers for the periods picked before the last come back late, as on a slow network
	// (or a loaded machine, where CI saw it), and must not draw over the last one's.
	late := chromedp.Evaluate(fmt.Sprintf(`(() => { const f = window.fetch;
		window.fetch = (u, o) => String(u).includes("/api/analytics/active-users") && !String(u).includes("end=" + %q)
			? new Promise((r) => setTimeout(r, 2500)).then(() => f(u, o)) : f(u, o); return 0 })()`, end), nil)
	b := browser(t, 1280, 800)
	var day, dau, refused string
	if err := chromedp.Run(b,
		emulation.SetTimezoneOverride("America/Los_Angeles"),
		chromedp.Navigate(e.URL+"/dashboard#activity"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#dau-chart canvas", chromedp.ByQuery),
		late,
		pick("range", "custom"),
		chromedp.WaitVisible("#range-start", chromedp.ByID),
		pick("range-start", start),
		pick("range-end", end),
		chromedp.Poll(fmt.Sprintf(`document.querySelector("#dau-chart .u-legend .u-series:nth-child(1) .u-value").textContent === %q`, end), nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Sleep(4*time.Second), // the late answers have come
		chromedp.Text("#dau-chart .u-legend .u-series:nth-child(1) .u-value", &day, chromedp.ByQuery),
		chromedp.Text("#dau-chart .u-legend .u-series:nth-child(2) .u-value", &dau, chromedp.ByQuery),
		pick("range-start", "2000-01-01"),
		chromedp.Poll(`document.getElementById("activity-status").textContent.startsWith("Cannot show those days")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#activity-status", &refused, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(counts.Days[4].DAU); day != end || dau != want {
		t.Errorf("the legend shows %s with DAU %s; want %s with %s", day, dau, end, want)
	}
	if !strings.Contains(refused, "start") {
		t.Errorf("a start before the retention says %q", refused)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe: %s", v)
	}
}

// With 1,200 more active sessions than the demo's, the active list reads a page of 50 at a time
// and says "1–50 of N" with N the API's count; Next shows the next 50; a user on page 2 links
// to their sessions (#sessions?user=…); a refresh updates rows in place and keeps focus.
func TestDashboardActivePaging(t *testing.T) {
	e, tok := stack(t)
	ctx := context.Background()
	now := e.Clock.Now()
	var users []pulse.User
	var sessions []*pulse.Session
	for i := range 1200 {
		u := fmt.Sprintf("crowd%04d", i)
		users = append(users, pulse.User{TenantID: e.Tenant, ID: u, Name: "Crowd " + u, CreatedAt: now, UpdatedAt: now})
		sessions = append(sessions, &pulse.Session{TenantID: e.Tenant, UserID: u, ID: "c" + u, Key: fmt.Sprintf("%064X", i), ClientIDs: []string{"web"},
			InitiatedAt: now.Add(-time.Hour), LastActivity: now.Add(-time.Duration(i%20) * time.Second), ExpiresAt: now.Add(29 * time.Minute),
			HardExpires: now.Add(23 * time.Hour), IPAddress: "198.51.100.9"})
	}
	if err := e.Deps.Store.Import(ctx, users, sessions, time.UTC); err != nil {
		t.Fatal(err)
	}
	r := e.Do("GET", "/api/sessions/active?limit=1", "", apptest.Key(e.Key)...)
	total := r.Header.Get("X-Total-Count")
	if n, _ := strconv.Atoi(total); n < 1200 {
		t.Fatalf("the API counts %s active sessions, want at least 1,200", total)
	}
	b := browser(t, 1280, 800)
	var first, second, rangeText string
	var rows int
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.Text("#active-range", &rangeText, chromedp.ByID),
		chromedp.AttributeValue("#active-table tbody tr", "data-session", &first, nil, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	withCommas := func(s string) string { n, _ := strconv.Atoi(s); return thousands(n) }
	if rangeText != "1–50 of "+withCommas(total) {
		t.Errorf("page 1 says %q, want 1–50 of %s", rangeText, withCommas(total))
	}
	if err := chromedp.Run(b,
		chromedp.Click("#active-next", chromedp.ByID),
		chromedp.Poll(`document.getElementById("active-range").textContent.startsWith("51–100")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`document.querySelectorAll("#active-table tbody tr").length`, &rows),
		chromedp.AttributeValue("#active-table tbody tr", "data-session", &second, nil, chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	if rows != 50 || second == first {
		t.Errorf("page 2: %d rows, first session %s (page 1's was %s)", rows, second, first)
	}
	// Focus a revoke button on page 2, refresh (pause, then resume: a click that takes no focus),
	// and the same button still has it.
	var before, after string
	if err := chromedp.Run(b,
		chromedp.Focus("#active-table tbody tr:nth-child(3) button.revoke", chromedp.ByQuery),
		chromedp.Evaluate(`document.activeElement.getAttribute("aria-label")`, &before),
		chromedp.Evaluate(`document.getElementById("active-pause").click(); document.getElementById("active-pause").click(); 0`, nil),
		chromedp.Poll(`document.getElementById("active-updated").textContent.endsWith("every 30 s")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Sleep(500*time.Millisecond), // the reload's answer
		chromedp.Evaluate(`document.activeElement ? document.activeElement.getAttribute("aria-label") || "" : ""`, &after),
	); err != nil {
		t.Fatal(err)
	}
	if before == "" || after != before {
		t.Errorf("focus before the refresh on %q, after on %q", before, after)
	}
	// The user of page 2's first row: a link to their sessions, a view with its own address.
	var user, hash, list string
	if err := chromedp.Run(b,
		chromedp.AttributeValue("#active-table tbody tr", "data-user", &user, nil, chromedp.ByQuery),
		chromedp.Click("#active-table tbody tr a.user-link", chromedp.ByQuery),
		chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
		chromedp.Evaluate(`location.hash`, &hash),
		chromedp.Text("#sessions-table", &list, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if hash != "#sessions?user="+user || !strings.Contains(list, "active") {
		t.Errorf("the user link: address %q, sessions %.200q", hash, list)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe: %s", v)
	}
	screenshot(t, b, "active-paged-1280.png")

	// The search box asks the server, over every active session: a user far beyond the first
	// page is found; a network finds its first 50 and offers to search further; a bad CIDR
	// says what is wrong; clearing the box brings the paged list back.
	var found, foundUser, network, more, bad, back string
	type_ := func(by, text string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.getElementById("active-search-by"); s.value = %q;
			const f = document.getElementById("active-filter"); f.value = %q; f.dispatchEvent(new Event("input")); return 0 })()`, by, text), nil)
	}
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard#active"),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		type_("user_prefix", "crowd1187"),
		chromedp.Poll(`document.getElementById("active-range").textContent.startsWith("1 session matches")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-range", &found, chromedp.ByID),
		chromedp.AttributeValue("#active-table tbody tr", "data-user", &foundUser, nil, chromedp.ByQuery),
		type_("ip", "198.51.100.0/24"),
		chromedp.Poll(`document.getElementById("active-range").textContent.includes("so far")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-range", &network, chromedp.ByID),
		chromedp.Click("#active-search-more", chromedp.ByID),
		chromedp.Poll(`document.querySelectorAll("#active-table tbody tr").length >= 100`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-range", &more, chromedp.ByID),
		type_("ip", "198.51.100.300"),
		chromedp.Poll(`document.getElementById("active-status").textContent.startsWith("Cannot search")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-status", &bad, chromedp.ByID),
		type_("ip", ""),
		chromedp.Poll(`document.getElementById("active-range").textContent.includes("–")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-range", &back, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if foundUser != "crowd1187" || !strings.Contains(found, "crowd1187") {
		t.Errorf("searching crowd1187: %q, first row's user %q", found, foundUser)
	}
	if !strings.HasPrefix(network, "50 sessions match") || !strings.HasPrefix(more, "100 sessions match") {
		t.Errorf("searching the network: %q, then %q after Search further", network, more)
	}
	if !strings.Contains(bad, "CIDR") || !strings.HasSuffix(back, "of "+withCommas(total)) {
		t.Errorf("a bad CIDR says %q; the cleared box shows %q", bad, back)
	}
	// Revoke all matching: a dry run counts, Cancel changes nothing, Yes ends exactly those.
	matching := func() (n int) {
		path := "/api/sessions/revoke?user_prefix=crowd11&dry_run=true"
		for {
			r := e.Do("POST", path, "", apptest.Key(e.Key)...)
			var a struct {
				Matched int
				Next    *string
			}
			r.JSON(t, &a)
			if n += a.Matched; a.Next == nil {
				return n
			}
			path = "/api/sessions/revoke?user_prefix=crowd11&dry_run=true&cursor=" + url.QueryEscape(*a.Next)
		}
	}
	var ask, done string
	if err := chromedp.Run(b,
		type_("user_prefix", "crowd11"),
		chromedp.Poll(`document.getElementById("active-range").textContent.startsWith("50 sessions match")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#active-revoke-matching", chromedp.ByID),
		chromedp.WaitVisible("#active-confirm", chromedp.ByID),
		chromedp.Text("#active-confirm-text", &ask, chromedp.ByID),
		chromedp.Click("#active-confirm-no", chromedp.ByID),
		chromedp.WaitNotVisible("#active-confirm", chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if n := matching(); !strings.HasPrefix(ask, "End 100 active sessions matching") || n != 100 {
		t.Errorf("the confirmation says %q; after Cancel %d match (want 100)", ask, n)
	}
	if err := chromedp.Run(b,
		chromedp.Click("#active-revoke-matching", chromedp.ByID),
		chromedp.Click("#active-confirm-yes", chromedp.ByID),
		chromedp.Poll(`document.getElementById("active-status").textContent.startsWith("Revoked 100 sessions")`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text("#active-status", &done, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if n := matching(); n != 0 || !strings.Contains(done, "crowd11") {
		t.Errorf("after the revoke: %q, %d still match", done, n)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe: %s", v)
	}
}

// thousands writes n with the thousands separators the page's en-US number format uses.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// A user's sessions: 20 a page with "1–20 of N" and Next; each with its User-Agent; a live one
// revoked from its row says so there; revoke-all asks once more (Cancel changes nothing) and
// then ends every live session.
func TestDashboardUserSessions(t *testing.T) {
	e, tok := stack(t)
	for i := range 25 {
		body := fmt.Sprintf(`{"client_id":"web","session_id":"m%02d","user_agent":%q}`, i, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
		if r := e.Do("POST", "/api/users/many/sessions", body, apptest.Key(e.Key)...); r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	live := func() int {
		r := e.Do("GET", "/api/users/many/sessions?status=active&size=100", "", apptest.Key(e.Key)...)
		var list []any
		r.JSON(t, &list)
		return len(list)
	}
	b := browser(t, 1280, 800)
	var rangeText, page2, ua string
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard#sessions?user=many"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#sessions-table tbody tr", chromedp.ByQuery),
		chromedp.Text("#sessions-range", &rangeText, chromedp.ByID),
		chromedp.Text("#sessions-table tbody tr td.ua", &ua, chromedp.ByQuery),
		chromedp.Click("#sessions-next", chromedp.ByID),
		chromedp.Poll(`document.getElementById("sessions-range").textContent.startsWith("21–25")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#sessions-range", &page2, chromedp.ByID),
		chromedp.Click("#sessions-prev", chromedp.ByID),
		chromedp.Poll(`document.getElementById("sessions-range").textContent.startsWith("1–20")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	); err != nil {
		t.Fatal(err)
	}
	if rangeText != "1–20 of 25 sessions of many" || page2 != "21–25 of 25 sessions of many" || !strings.Contains(ua, "Firefox/140.0") {
		t.Errorf("pages %q and %q, user agent %q", rangeText, page2, ua)
	}
	var state string
	if err := chromedp.Run(b,
		chromedp.Click("#sessions-table tbody tr button.revoke", chromedp.ByQuery),
		chromedp.Poll(`document.querySelector("#sessions-table tbody tr td:nth-child(4)").textContent === "revoked just now"`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#sessions-status", &state, chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if n := live(); n != 24 || !strings.Contains(state, "Revoked session") {
		t.Errorf("after revoking one: %d live (want 24), status %q", n, state)
	}
	if err := chromedp.Run(b,
		chromedp.Click("#sessions-revoke-all", chromedp.ByID),
		chromedp.WaitVisible("#sessions-confirm", chromedp.ByID),
		chromedp.Click("#sessions-confirm-no", chromedp.ByID),
		chromedp.WaitNotVisible("#sessions-confirm", chromedp.ByID),
	); err != nil {
		t.Fatal(err)
	}
	if n := live(); n != 24 {
		t.Errorf("Cancel left %d live sessions, want 24", n)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe: %s", v)
	}
	if err := chromedp.Run(b,
		chromedp.Poll(`document.querySelectorAll('#active-table a[href="#sessions?user=many"]').length > 0`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Click("#sessions-revoke-all", chromedp.ByID),
		chromedp.Click("#sessions-confirm-yes", chromedp.ByID),
		chromedp.Poll(`document.getElementById("sessions-status").textContent.startsWith("Revoked every live session")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		// The active list drops them at once, not at its next 30 s refresh.
		chromedp.Poll(`document.querySelectorAll('#active-table a[href="#sessions?user=many"]').length === 0`, nil, chromedp.WithPollingTimeout(10*time.Second)),
	); err != nil {
		t.Fatal(err)
	}
	if n := live(); n != 0 {
		t.Errorf("after revoke-all: %d live sessions", n)
	}
	screenshot(t, b, "user-sessions-1280.png")
}

// The search reaches ended sessions too: "Ended in the last 24 hours" lists a user's revoked
// sessions with when and why they ended and nothing to revoke (no row button, no "Revoke all
// matching"), on a phone too; "Active now" again finds only the live one, with its button; axe
// finds nothing serious on the view at 1280×800 and 390×844.
func TestDashboardEndedSearch(t *testing.T) {
	e, tok := stack(t)
	for i := range 3 {
		body := fmt.Sprintf(`{"client_id":"web","session_id":"gone%d","user_agent":%q}`, i, "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
		if r := e.Do("POST", "/api/users/goner/sessions", body, apptest.Key(e.Key)...); r.Status != 201 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
	}
	for _, id := range []string{"gone0", "gone1"} {
		if r := e.Do("DELETE", "/api/users/goner/sessions/"+id, "", apptest.Key(e.Key)...); r.Status != 204 {
			t.Fatalf("revoke %s: %d %s", id, r.Status, r.Body)
		}
	}
	among := func(days string) chromedp.Action {
		return chromedp.Evaluate(fmt.Sprintf(`(() => { const s = document.getElementById("active-search-in"); s.value = %q;
			s.dispatchEvent(new Event("change")); return 0 })()`, days), nil)
	}
	b := browser(t, 1280, 800)
	var rangeText, ids, last string
	var buttons int
	var bulkHidden bool
	if err := chromedp.Run(b,
		chromedp.Navigate(e.URL+"/dashboard"),
		signIn(demo.Admin, tok),
		chromedp.WaitVisible("#active-table tbody tr", chromedp.ByQuery),
		chromedp.Evaluate(`(() => { const s = document.getElementById("active-search-by"); s.value = "user_prefix";
			const f = document.getElementById("active-filter"); f.value = "goner"; return 0 })()`, nil),
		among("1"),
		chromedp.Poll(`document.getElementById("active-range").textContent.startsWith("2 sessions ended in the last 24 hours match")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Text("#active-range", &rangeText, chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll("#active-table tbody tr")].map((tr) => tr.dataset.session).sort().join(",")`, &ids),
		chromedp.Text("#active-table tbody tr td:last-child", &last, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#active-table tbody button.revoke").length`, &buttons),
		chromedp.Evaluate(`document.getElementById("active-revoke-matching").hidden`, &bulkHidden),
	); err != nil {
		t.Fatal(err)
	}
	if ids != "gone0,gone1" || !strings.HasPrefix(last, "Ended ") || !strings.HasSuffix(last, ", revoked") || buttons != 0 || !bulkHidden {
		t.Errorf("ended search: range %q, rows %q, last cell %q, %d revoke buttons, bulk revoke hidden %v; want gone0 and gone1 ended and revoked, nothing to revoke",
			rangeText, ids, last, buttons, bulkHidden)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe at 1280×800: %s", v)
	}
	// The same view on a phone: rows become cards, and the end is still said.
	var cards int
	if err := chromedp.Run(b,
		chromedp.EmulateViewport(390, 844),
		chromedp.Evaluate(`[...document.querySelectorAll("#active-table tbody td:last-child")].filter((td) => td.offsetWidth > 0 && td.textContent.startsWith("Ended ")).length`, &cards),
	); err != nil {
		t.Fatal(err)
	}
	if cards != 2 {
		t.Errorf("at 390×844, %d rows show when they ended, want 2", cards)
	}
	for _, v := range axe(t, b) {
		t.Errorf("axe at 390×844: %s", v)
	}
	screenshot(t, b, "ended-search-390.png")
	if err := chromedp.Run(b,
		chromedp.EmulateViewport(1280, 800),
		among("0"),
		chromedp.Poll(`document.getElementById("active-range").textContent.startsWith("1 session matches")`, nil, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll("#active-table tbody tr")].map((tr) => tr.dataset.session).join(",")`, &ids),
		chromedp.Evaluate(`document.querySelectorAll("#active-table tbody button.revoke").length`, &buttons),
	); err != nil {
		t.Fatal(err)
	}
	if ids != "gone2" || buttons != 1 {
		t.Errorf("back to active sessions: rows %q with %d revoke buttons, want gone2 with its button", ids, buttons)
	}
}
