package config

import (
	"net/url"
	"time"
)

// API configures the interactive query API (/api/v1) and how the instances of
// one application reach each other to answer it.
type API struct {
	// AdvertisedURL is the base URL (scheme://host:port) at which the other
	// instances of the group reach this one's API; each instance publishes it in
	// its group membership, as Kafka Streams' application.server. Default: http://
	// the host name and the port of the first --web.listen-address. Set it when
	// the instances reach each other by another name, or use https.
	AdvertisedURL string `yaml:"advertised_url"`
	// TokensFile, when set, holds the bearer tokens the API accepts, one per line
	// (blank lines and lines starting with # are ignored). It is read again when it
	// changes. Without it the API needs no token (TLS and basic auth from
	// --web.config.file still apply). /metrics and the probes never need one.
	TokensFile string `yaml:"tokens_file"`
	// PeerToken is the bearer token this instance sends to the others when it
	// fans a query out; default: the first token of TokensFile.
	PeerToken string `yaml:"peer_token"`
	// Timeout bounds a query, fan-out included. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// PeerTimeout bounds one request to another instance. Default 5s.
	PeerTimeout Duration `yaml:"peer_timeout"`
	// MaxPoints bounds the points of one answer (over all its series). Default
	// 250000.
	MaxPoints int `yaml:"max_points"`
	// MaxKeys bounds the series or keys of one answer. Default 10000.
	MaxKeys int `yaml:"max_keys"`
	// MaxSubscribers bounds the live (server-sent events) subscribers one
	// instance holds. Default 1000.
	MaxSubscribers int `yaml:"max_subscribers"`
}

func (c *Config) fillAPIDefaults(unset func(string) bool) {
	a := &c.API
	if a.Timeout == 0 && unset("api.timeout") {
		a.Timeout = Duration(30 * time.Second)
	}
	if a.PeerTimeout == 0 && unset("api.peer_timeout") {
		a.PeerTimeout = Duration(5 * time.Second)
	}
	if a.MaxPoints == 0 && unset("api.max_points") {
		a.MaxPoints = 250_000
	}
	if a.MaxKeys == 0 && unset("api.max_keys") {
		a.MaxKeys = 10_000
	}
	if a.MaxSubscribers == 0 && unset("api.max_subscribers") {
		a.MaxSubscribers = 1000
	}
}

func (c *Config) validateAPI(p *problems) {
	a := &c.API
	if a.AdvertisedURL != "" {
		u, err := url.Parse(a.AdvertisedURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.add("api.advertised_url", "%q is not a base URL such as http://kwindow-0:9897", a.AdvertisedURL)
		}
	}
	if a.Timeout < Duration(time.Millisecond) {
		p.add("api.timeout", "must be at least 1ms, got %v", a.Timeout)
	}
	if a.PeerTimeout < Duration(time.Millisecond) || a.PeerTimeout > a.Timeout {
		p.add("api.peer_timeout", "must be between 1ms and api.timeout (%v), got %v", a.Timeout, a.PeerTimeout)
	}
	for _, l := range []struct {
		path string
		n    int
	}{{"api.max_points", a.MaxPoints}, {"api.max_keys", a.MaxKeys}, {"api.max_subscribers", a.MaxSubscribers}} {
		if l.n < 1 {
			p.add(l.path, "must be at least 1, got %d", l.n)
		}
	}
	if a.PeerToken != "" && a.TokensFile == "" {
		p.add("api.peer_token", "is sent to instances that check tokens: set api.tokens_file too")
	}
}
