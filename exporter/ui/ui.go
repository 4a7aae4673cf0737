package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

// Prefix is where the page is served.
const Prefix = "/ui/"

// Handler serves the page and its assets under Prefix, and redirects / to it.
// Any other path is 404.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil { // dist is embedded: it exists
		panic(err)
	}
	return handler{files: http.FileServerFS(sub), fsys: sub}
}

type handler struct {
	files http.Handler
	fsys  fs.FS
}

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/" || r.URL.Path == "/ui":
		// A relative Location (http.Redirect would make it absolute), so that a
		// reverse proxy's path prefix is kept.
		w.Header().Set("Location", "ui/")
		w.WriteHeader(http.StatusFound)
		return
	case r.URL.Path == Prefix:
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, h.fsys, "index.html")
		return
	case !strings.HasPrefix(r.URL.Path, Prefix) || strings.HasSuffix(r.URL.Path, "/"):
		http.NotFound(w, r)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if _, err := fs.Stat(h.fsys, name); err != nil {
		http.NotFound(w, r)
		return
	}
	if strings.HasPrefix(name, "assets/") {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + name
	h.files.ServeHTTP(w, r2)
}
