package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// TokenSource gives the bearer tokens the API accepts. Tokens is called on
// every request, so it must be cheap and safe for concurrent use.
type TokenSource interface {
	Tokens() []string
}

// StaticTokens is a fixed set of tokens.
type StaticTokens []string

// Tokens implements TokenSource.
func (t StaticTokens) Tokens() []string { return t }

// TokenFile is the tokens of api.tokens_file: one per line, blank lines and
// lines starting with # ignored, surrounding spaces trimmed. It is read again
// when its size, modification time or inode changes, checked at most once a
// second, on a request (no watcher goroutine, no dependency). A file that
// cannot be read on a later check leaves the tokens as they were, and says so
// in the log; one read without tokens accepts none.
type TokenFile struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	info    os.FileInfo
	tokens  []string
	failing bool // the last check failed: log only the first failure
}

// NewTokenFile reads path. An unreadable file, or one without tokens, is an
// error: a server would answer every request 401. The error names the file,
// not the setting: the caller says which setting it is.
func NewTokenFile(path string, log *slog.Logger) (*TokenFile, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &TokenFile{path: path, log: log, now: time.Now}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := f.load(fi); err != nil {
		return nil, err
	}
	if len(f.tokens) == 0 {
		return nil, fmt.Errorf("%s holds no token", path)
	}
	f.checked = f.now()
	return f, nil
}

// Tokens implements TokenSource.
func (f *TokenFile) Tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= time.Second || now.Before(f.checked) {
		f.checked = now
		f.reload()
	}
	return f.tokens
}

// First is the file's first token: the default api.peer_token.
func (f *TokenFile) First() string {
	t := f.Tokens()
	if len(t) == 0 {
		return ""
	}
	return t[0]
}

func (f *TokenFile) reload() {
	fi, err := os.Stat(f.path)
	if err == nil && f.info != nil && os.SameFile(fi, f.info) && fi.Size() == f.info.Size() && fi.ModTime().Equal(f.info.ModTime()) {
		f.failing = false
		return
	}
	if err == nil {
		err = f.load(fi)
	}
	if err != nil {
		if !f.failing {
			f.log.Error("api.tokens_file: keeping the tokens read before", "err", err)
		}
		f.failing = true
		return
	}
	f.failing = false
	f.log.Info("api.tokens_file: read again", "path", f.path, "tokens", len(f.tokens))
	if len(f.tokens) == 0 {
		f.log.Warn("api.tokens_file: holds no token: every API request is refused", "path", f.path)
	}
}

func (f *TokenFile) load(fi os.FileInfo) error {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			tokens = append(tokens, t)
		}
	}
	f.info, f.tokens = fi, tokens
	return nil
}

// accepts reports whether token is one of tokens. It compares SHA-256 digests,
// so that neither a token's length nor its content shortens the comparison, and
// compares with every token, so that the time taken does not say which matched.
// The empty token (no Authorization header) takes the same path and never
// matches.
func accepts(tokens []string, token string) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, t := range tokens {
		want := sha256.Sum256([]byte(t))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1 && token != ""
}

// bearer returns the token of an "Authorization: Bearer <token>" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

// authenticate answers 401 to any request without an accepted token: the same
// body and header whether the token is missing or wrong, and none of it echoed.
func (h *handler) authenticate(next http.Handler) http.Handler {
	if h.o.Auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !accepts(h.o.Auth.Tokens(), bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kwindow"`)
			writeErr(w, http.StatusUnauthorized, &errorInfo{Code: codeUnauthorized,
				Message: "a valid bearer token is required (Authorization: Bearer <token>)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
