package plugin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// DefaultTimeout bounds each API request when timeoutSeconds is not set.
const DefaultTimeout = 30 * time.Second

// Settings are a data source's settings, from the data source's jsonData and
// secureJsonData.
type Settings struct {
	// URLs are the kwindow instances to ask, in order (jsonData.urls; the data
	// source's URL field when urls is empty). Any instance answers for the
	// whole consumer group, so the others are only failovers.
	URLs []string
	// Timeout bounds each API request (jsonData.timeoutSeconds; default 30).
	Timeout time.Duration
	// Token is the bearer token of the API (secureJsonData.token), optional.
	Token string
}

// jsonData is the data source's jsonData as the config editor writes it.
type jsonData struct {
	URLs           []string `json:"urls"`
	TimeoutSeconds *float64 `json:"timeoutSeconds"`
}

// SettingsError is a setting that cannot be used: Field names it as the
// config editor stores it ("jsonData.urls[1]").
type SettingsError struct {
	Field string
	Msg   string
}

func (e *SettingsError) Error() string { return fmt.Sprintf("settings: %s: %s", e.Field, e.Msg) }

// ParseSettings reads and checks a data source's settings. Its error is a
// *SettingsError naming the first field at fault.
func ParseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var jd jsonData
	if len(s.JSONData) > 0 && string(s.JSONData) != "null" {
		if err := json.Unmarshal(s.JSONData, &jd); err != nil {
			return Settings{}, &SettingsError{"jsonData", "not a JSON object of urls and timeoutSeconds: " + err.Error()}
		}
	}
	out := Settings{Timeout: DefaultTimeout, Token: s.DecryptedSecureJSONData["token"]}
	field := "jsonData.urls"
	urls := jd.URLs
	if len(urls) == 0 && strings.TrimSpace(s.URL) != "" {
		field, urls = "url", []string{s.URL}
	}
	if len(urls) == 0 {
		return Settings{}, &SettingsError{"jsonData.urls", `no URL: want at least one kwindow instance, such as "http://kwindow-0:9897"`}
	}
	seen := map[string]bool{}
	for i, u := range urls {
		f := field
		if field != "url" {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if err := checkURL(u); err != nil {
			return Settings{}, &SettingsError{f, err.Error()}
		}
		if seen[u] {
			return Settings{}, &SettingsError{f, fmt.Sprintf("%q is listed twice", u)}
		}
		seen[u] = true
		out.URLs = append(out.URLs, u)
	}
	if t := jd.TimeoutSeconds; t != nil {
		if !(*t > 0 && *t <= 3600) {
			return Settings{}, &SettingsError{"jsonData.timeoutSeconds", fmt.Sprintf("must be > 0 and <= 3600, got %v", *t)}
		}
		out.Timeout = time.Duration(*t * float64(time.Second))
	}
	return out, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q: want http://host:port or https://host:port", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: want no query or fragment", s)
	}
	return nil
}
