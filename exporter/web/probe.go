package web

import (
	"io"
	"net/http"
)

// healthz answers 200 "ok" for as long as the process serves HTTP: a liveness probe
// that fails only when restarting would help.
func healthz(w http.ResponseWriter, _ *http.Request) {
	probeHeaders(w)
	io.WriteString(w, "ok\n")
}

// readyz answers 200 "ok" when ready says so, and 503 with its reason otherwise, so
// that a load balancer or Kubernetes holds traffic back during restoration and a
// person running curl learns why.
func readyz(ready func() (bool, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := true, ""
		if ready != nil {
			ok, reason = ready()
		}
		probeHeaders(w)
		if ok {
			io.WriteString(w, "ok\n")
			return
		}
		if reason == "" {
			reason = "not ready"
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, reason+"\n")
	})
}

// probeHeaders marks a probe answer as plain text that no cache may keep: a stale
// "ok" from a proxy would defeat the probe.
func probeHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}
