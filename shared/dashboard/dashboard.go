// Package dashboard serves Pulse's own page: who is active now, activity over time, when people
// are active, a user's sessions. The page and its assets are embedded in the binary; asset names
// carry a hash of their content, so that they can be cached for a year, and the page itself is
// never cached. The page holds no credential but the signed-in user's personal access token, in
// sessionStorage, and reads the other surfaces with it.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/pulse-sessions/pulse/shared/httpx"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// web holds index.html, the page's own script and style, and vendor/: the chart library, copied
// from node_modules by `make assets` (package-lock.json pins it).
//
//go:embed web
var web embed.FS

// Routes are the dashboard's endpoints. The page is public; what it shows comes from the other
// surfaces, behind the signed-in user's token.
var Routes = []httpx.Route[*API]{
	{Key: "GET /dashboard", Serve: (*API).Page},
	{Key: "GET /dashboard/assets/{file}", Serve: (*API).Asset},
}

// CSP allows the page nothing but its own origin: its scripts and styles are files (no inline
// code), it calls only this API, and it may not be framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body []byte
	typ  string
}

// API serves the page and its assets.
type API struct {
	page   []byte
	assets map[string]asset // by fingerprinted name
	fail   httpx.ErrorWriter
}

// assetTypes are the Content-Types of the files web/ holds. They are fixed here rather than
// looked up with mime.TypeByExtension, whose first call reads the machine's mime.types files:
// about 3 ms of every cold start of this function, and an answer that depends on the files of
// the image it runs on (TestDashboardServing checks every asset has one).
var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
}

// New returns the dashboard, its assets fingerprinted.
func New(log *slog.Logger) *API {
	a := &API{assets: map[string]asset{}, fail: ErrorWriter(log)}
	names := map[string]string{} // file in web/ → its URL
	_ = fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Base(p) == "index.html" || strings.HasPrefix(path.Base(p), ".") {
			return err
		}
		body, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(p)
		name := strings.TrimSuffix(path.Base(p), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.assets[name] = asset{body: body, typ: assetTypes[ext]}
		names[strings.TrimPrefix(p, "web/")] = "/dashboard/assets/" + name
		return nil
	})
	page, _ := web.ReadFile("web/index.html")
	// {{asset "file"}} in the page becomes the file's fingerprinted URL.
	for file, url := range names {
		page = bytes.ReplaceAll(page, []byte(fmt.Sprintf("{{asset %q}}", file)), []byte(url))
	}
	a.page = page
	return a
}

// Errors returns the surface's error writer.
func (a *API) Errors() httpx.ErrorWriter { return a.fail }

// Handler returns the endpoint of route key; false when the surface has no such route.
func (a *API) Handler(key string) (http.Handler, bool) {
	rt, ok := httpx.Find(Routes, key)
	if !ok {
		return nil, false
	}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error { return rt.Serve(a, w, r) }, a.fail), true
}

// Page serves GET /dashboard: never cached, so that a new deployment's assets are picked up.
func (a *API) Page(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	security(h)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.page)
	return nil
}

// Asset serves GET /dashboard/assets/{file}: a fingerprinted file, cached for a year.
func (a *API) Asset(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	as, ok := a.assets[file]
	if !ok {
		return pulse.NotFound("asset", pulse.EntityRoute, file)
	}
	h := w.Header()
	h.Set("Content-Type", as.typ)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	security(h)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(as.body)
	return nil
}

func security(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// ErrorWriter answers the dashboard's errors as plain text: only a missing asset, a bad route
// or an outage can happen here.
func ErrorWriter(log *slog.Logger) httpx.ErrorWriter {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		httpx.LogError(log, r, err)
		status := http.StatusInternalServerError
		switch pulse.ErrorCode(err) {
		case pulse.ENOTFOUND:
			status = http.StatusNotFound
		case pulse.EINVALID:
			status = http.StatusBadRequest
		case pulse.EUNAVAILABLE:
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		security(w.Header())
		w.WriteHeader(status)
		_, _ = fmt.Fprintln(w, http.StatusText(status))
	}
}
