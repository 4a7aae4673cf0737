package main

import (
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

func TestLoadgenEndpointsFlag(t *testing.T) {
	f := func(endpoints int, want string) {
		t.Helper()
		err := runLoadgen(&config.Config{}, loadgenOptions{rate: 1, partitions: 1, endpoints: endpoints})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--endpoints=%d: got %v, want %q", endpoints, err, want)
		}
	}
	f(-1, "--endpoints: want 0 (the default profile) to 1000000, got -1")
	f(loadgen.MaxEndpoints+1, "--endpoints: want 0 (the default profile) to 1000000, got 1000001")
}

func TestParseIncidentEndpoints(t *testing.T) {
	synthetic := loadgen.Config{Endpoints: 875}.EndpointProfiles()
	f := func(s string, eps []loadgen.EndpointProfile, want string) {
		t.Helper()
		inc, err := parseIncident(s, 0, eps)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", s, err)
		case want == "" && inc.Endpoint != strings.Split(s, ":")[1]:
			t.Errorf("%s: endpoint %q", s, inc.Endpoint)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: got %v, want %q", s, err, want)
		}
	}
	f("error_spike:/api/checkout:1m:1m", loadgen.Endpoints(), "")
	f("error_spike:/api/e0874:1m:1m", synthetic, "")
	f("error_spike:/api/e0875:1m:1m", synthetic,
		`endpoint "/api/e0875": want one of /api/e0000, /api/e0001, /api/e0002, /api/e0003, …, /api/e0871, /api/e0872, /api/e0873, /api/e0874, or * for all`)
	f("error_spike:/api/checkout:1m:1m", synthetic, `endpoint "/api/checkout"`)
	f("error_spike:/nope:1m:1m", loadgen.Endpoints(), `want one of /api/users, /api/products, /api/search, /api/orders, /api/cart, /api/login, /api/checkout, /health, or * for all`)
}
