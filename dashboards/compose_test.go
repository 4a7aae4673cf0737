package dashboards

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/config"
)

// No Docker engine runs here: these tests read docker-compose.yml and the files it
// mounts, and check that the stack would fit together.

const composeFile = "../docker-compose.yml"

type compose struct {
	Name       string               `yaml:"name"`
	Services   map[string]*service  `yaml:"services"`
	Volumes    map[string]*struct{} `yaml:"volumes"`
	Extensions map[string]any       `yaml:",inline"` // x-* anchors
}

type service struct {
	Image       string                                `yaml:"image"`
	Build       *struct{ Context, Dockerfile string } `yaml:"build"`
	Hostname    string                                `yaml:"hostname"`
	Entrypoint  []string                              `yaml:"entrypoint"`
	Command     []string                              `yaml:"command"`
	Environment map[string]string                     `yaml:"environment"`
	Volumes     []string                              `yaml:"volumes"`
	Ports       []string                              `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Timeout  string   `yaml:"timeout"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	NetworkMode string `yaml:"network_mode"`
	Platform    string `yaml:"platform"`
	Restart     string `yaml:"restart"`
}

// mount is one short-syntax volume entry: SOURCE:TARGET[:ro].
type mount struct {
	source, target string
	bind           bool // source is a path of the repository, not a named volume
}

func (s *service) mounts(t *testing.T, name string) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || (len(parts) == 3 && parts[2] != "ro") {
			t.Errorf("%s: volume %q: want SOURCE:TARGET or SOURCE:TARGET:ro", name, v)
			continue
		}
		out = append(out, mount{source: parts[0], target: parts[1], bind: strings.HasPrefix(parts[0], ".")})
	}
	return out
}

// mountOf returns the mount whose target holds the container path p, and p's
// path below it.
func (s *service) mountOf(t *testing.T, name, p string) (m mount, rest string, ok bool) {
	for _, m := range s.mounts(t, name) {
		if p == m.target || strings.HasPrefix(p, m.target+"/") {
			return m, strings.TrimPrefix(strings.TrimPrefix(p, m.target), "/"), true
		}
	}
	return mount{}, "", false
}

// flag returns the value of --name=VALUE in args.
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func readCompose(t *testing.T) *compose {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v (the test reads the short syntax of volumes and ports, and maps for environment and depends_on)", composeFile, err)
	}
	for k := range c.Extensions {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("%s: unknown top-level key %q", composeFile, k)
		}
	}
	return &c
}

// builtByMake lists paths a compose file may mount that a make target produces,
// with the Makefile text that shows the target writes there.
var builtByMake = map[string]string{
	"grafana-plugin/dist": "-o $(PLUGIN_DIR)/dist/",
}

// kwindowServices returns the services that run `kwindow run`, by name.
func kwindowServices(c *compose) []string {
	var out []string
	for name, s := range c.Services {
		if s.Image == "kwindow:local" && slices.Contains(s.Command, "run") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestCompose checks docker-compose.yml's structure: every service the stack
// needs, images pinned or built, mounts of files that exist, dependencies that
// exist and wait for what they need, host ports once each.
func TestCompose(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"kafka", "kafka-init", "loadgen", "kwindow-0", "kwindow-1", "prometheus", "alertmanager", "alert-webhook", "grafana"} {
		if c.Services[name] == nil {
			t.Errorf("no service %s", name)
		}
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	hostPorts := map[string]string{}
	usedVolumes := map[string]string{}
	for name, s := range c.Services {
		switch {
		case s.Image == "":
			t.Errorf("%s: no image", name)
		case !strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest"):
			t.Errorf("%s: image %q: pin a tag", name, s.Image)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join("..", s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		}
		for _, m := range s.mounts(t, name) {
			if !m.bind {
				if _, ok := c.Volumes[m.source]; !ok {
					t.Errorf("%s: volume %q is not declared under volumes", name, m.source)
				}
				if other, ok := usedVolumes[m.source]; ok {
					t.Errorf("%s: volume %q is %s's too", name, m.source, other)
				}
				usedVolumes[m.source] = name
				continue
			}
			rel := path.Clean(m.source)
			if _, err := os.Stat(filepath.Join("..", rel)); err != nil {
				want, built := builtByMake[rel]
				if !built {
					t.Errorf("%s: mounts %s, which is not in the repository", name, m.source)
				} else if !strings.Contains(string(makefile), want) {
					t.Errorf("%s: mounts %s, which no make target builds (the Makefile has no %q)", name, m.source, want)
				}
			}
		}
		for _, p := range s.Ports {
			host, _, ok := strings.Cut(p, ":")
			if !ok {
				t.Errorf("%s: port %q: want HOST:CONTAINER", name, p)
			}
			if other, dup := hostPorts[host]; dup {
				t.Errorf("%s: host port %s is %s's too", name, host, other)
			}
			hostPorts[host] = name
		}
		for dep, d := range s.DependsOn {
			ds := c.Services[dep]
			switch {
			case ds == nil:
				t.Errorf("%s: depends on %s, which is no service", name, dep)
			case d.Condition == "service_healthy" && ds.Healthcheck == nil:
				t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", name, dep)
			case d.Condition == "service_completed_successfully" && ds.Restart != "no":
				t.Errorf("%s: waits for %s to complete, which must not restart (restart: \"no\")", name, dep)
			case d.Condition != "service_started" && d.Condition != "service_healthy" && d.Condition != "service_completed_successfully":
				t.Errorf("%s: depends on %s with condition %q", name, dep, d.Condition)
			}
		}
		if target, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if c.Services[target] == nil || s.DependsOn[target].Condition == "" {
				t.Errorf("%s: network_mode %s: no such service, or not in depends_on", name, s.NetworkMode)
			}
			if len(s.Ports) > 0 {
				t.Errorf("%s: a service in another's network namespace cannot publish ports", name)
			}
		}
	}
	for v := range c.Volumes {
		if _, ok := usedVolumes[v]; !ok {
			t.Errorf("volume %s is declared and never mounted", v)
		}
	}
	if k := c.Services["kafka"]; k != nil {
		m, _, ok := k.mountOf(t, "kafka", k.Environment["KAFKA_LOG_DIRS"])
		if !ok || m.bind {
			t.Errorf("kafka: its log dirs (KAFKA_LOG_DIRS %q) are on no named volume", k.Environment["KAFKA_LOG_DIRS"])
		}
	}
}

// TestComposeKwindow: two instances of one consumer group, each with its own
// instance id, state volume and advertised address, started after the init
// service created the input topic that their configuration and the load
// generator's name.
func TestComposeKwindow(t *testing.T) {
	c := readCompose(t)
	names := kwindowServices(c)
	if len(names) != 2 {
		t.Fatalf("services running kwindow: %v, want two", names)
	}
	topic := createdTopic(t, c)
	ids, groups := map[string]string{}, map[string]bool{}
	for i, name := range append(names, "loadgen") {
		s := c.Services[name]
		cfg := composeConfig(t, c, name)
		if cfg == nil {
			continue
		}
		if s.DependsOn["kafka-init"].Condition != "service_completed_successfully" {
			t.Errorf("%s: must wait for kafka-init to complete (the input topic)", name)
		}
		if cfg.Stream.InputTopic != topic {
			t.Errorf("%s: input topic %q, but kafka-init creates %q", name, cfg.Stream.InputTopic, topic)
		}
		if !slices.Equal(cfg.Kafka.Brokers, []string{"kafka:9092"}) {
			t.Errorf("%s: brokers %v, want [kafka:9092]", name, cfg.Kafka.Brokers)
		}
		if name == "loadgen" {
			continue
		}
		if other, dup := ids[cfg.Stream.InstanceID]; dup {
			t.Errorf("%s: instance_id %q is %s's too", name, cfg.Stream.InstanceID, other)
		}
		ids[cfg.Stream.InstanceID] = name
		groups[cfg.Stream.ApplicationID] = true
		if want := "http://" + name + ":9897"; cfg.API.AdvertisedURL != want {
			t.Errorf("%s: api.advertised_url %q, want %q (the other instances call it there)", name, cfg.API.AdvertisedURL, want)
		}
		m, _, ok := s.mountOf(t, name, cfg.State.Dir)
		if !ok || m.bind {
			t.Errorf("%s: state.dir %s is on no named volume of its own", name, cfg.State.Dir)
		}
		if want := fmt.Sprintf("%d:9897", 9897+i); !slices.Contains(s.Ports, want) {
			t.Errorf("%s: ports %v, want %s (kwindow-N on 9897+N)", name, s.Ports, want)
		}
	}
	if len(groups) != 1 {
		t.Errorf("the instances are in consumer groups %v, want one", groups)
	}
}

// composeConfig loads the kwindow configuration service name is given (its
// --config.file, mounted from the repository) as kwindow would.
func composeConfig(t *testing.T, c *compose, name string) *config.Config {
	t.Helper()
	s := c.Services[name]
	file, ok := flag(s.Command, "config.file")
	if !ok {
		t.Errorf("%s: no --config.file", name)
		return nil
	}
	m, rest, ok := s.mountOf(t, name, file)
	if !ok || !m.bind {
		t.Errorf("%s: --config.file %s is not mounted from the repository", name, file)
		return nil
	}
	cfg, err := config.LoadFile(filepath.Join("..", m.source, rest))
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	return cfg
}

// createdTopic returns the topic kafka-init creates.
func createdTopic(t *testing.T, c *compose) string {
	t.Helper()
	s := c.Services["kafka-init"]
	if s == nil {
		t.Fatal("no kafka-init")
	}
	args := append(slices.Clone(s.Entrypoint), s.Command...)
	if len(args) == 0 || path.Base(args[0]) != "kafka-topics.sh" || !slices.Contains(args, "--create") {
		t.Fatalf("kafka-init: %v, want kafka-topics.sh --create", args)
	}
	i := slices.Index(args, "--topic")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("kafka-init: no --topic in %v", args)
	}
	if s.DependsOn["kafka"].Condition != "service_healthy" {
		t.Error("kafka-init: must wait for kafka to be healthy")
	}
	return args[i+1]
}

// TestComposePrometheus: Prometheus scrapes every kwindow service under the job
// the rules expect, reads the rules and native histograms, and alerts through the
// Alertmanager service.
func TestComposePrometheus(t *testing.T) {
	c := readCompose(t)
	s := c.Services["prometheus"]
	if s == nil {
		t.Fatal("no prometheus")
	}
	if !slices.Contains(s.Command, "--enable-feature=native-histograms") {
		t.Error("prometheus: native histograms are off")
	}
	file, _ := flag(s.Command, "config.file")
	m, rest, ok := s.mountOf(t, "prometheus", file)
	if !ok || !m.bind {
		t.Fatalf("prometheus: --config.file %q is not mounted from the repository", file)
	}
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
		Alerting  struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	data, err := os.ReadFile(filepath.Join("..", m.source, rest))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "kwindow" {
			for _, st := range sc.StaticConfigs {
				targets = append(targets, st.Targets...)
			}
		}
	}
	var want []string
	for _, name := range kwindowServices(c) {
		want = append(want, name+":9897")
	}
	slices.Sort(targets)
	if !slices.Equal(targets, want) {
		t.Errorf("job kwindow scrapes %v, want every kwindow service: %v", targets, want)
	}
	for _, rf := range cfg.RuleFiles {
		// rule_files are relative to the configuration file, in the container.
		p := path.Join(path.Dir(file), rf)
		rm, rrest, ok := s.mountOf(t, "prometheus", path.Dir(p))
		matches, _ := filepath.Glob(filepath.Join("..", rm.source, rrest, path.Base(p)))
		if !ok || len(matches) == 0 {
			t.Errorf("prometheus: rule_files %s (%s in the container) matches no mounted file", rf, p)
		}
	}
	for _, am := range cfg.Alerting.Alertmanagers {
		for _, st := range am.StaticConfigs {
			for _, tg := range st.Targets {
				if host, _, _ := strings.Cut(tg, ":"); c.Services[host] == nil {
					t.Errorf("prometheus: alertmanager %s is no service", tg)
				}
			}
		}
	}
}

// TestComposeAlertmanager: every webhook receiver reaches a server. A URL on
// 127.0.0.1 is Alertmanager's own container, so it needs a service in its network
// namespace listening on that port (the end-to-end test moves these URLs to its
// own receiver).
func TestComposeAlertmanager(t *testing.T) {
	c := readCompose(t)
	s := c.Services["alertmanager"]
	file, _ := flag(s.Command, "config.file")
	m, rest, ok := s.mountOf(t, "alertmanager", file)
	if !ok || !m.bind {
		t.Fatalf("alertmanager: --config.file %q is not mounted from the repository", file)
	}
	var cfg struct {
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				URL string `yaml:"url"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
	}
	data, err := os.ReadFile(filepath.Join("..", m.source, rest))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	hooks := 0
	for _, r := range cfg.Receivers {
		for _, w := range r.WebhookConfigs {
			hooks++
			u, err := url.Parse(w.URL)
			if err != nil {
				t.Errorf("receiver %s: %v", r.Name, err)
				continue
			}
			if c.Services[u.Hostname()] != nil {
				continue
			}
			if u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" {
				t.Errorf("receiver %s: %s is no compose service", r.Name, w.URL)
				continue
			}
			listening := false
			for name, o := range c.Services {
				if o.NetworkMode == "service:alertmanager" && strings.Contains(strings.Join(o.Command, " "), `"127.0.0.1", `+u.Port()) {
					listening = true
					t.Logf("receiver %s: %s is %s", r.Name, w.URL, name)
				}
			}
			if !listening {
				t.Errorf("receiver %s: %s is inside Alertmanager's container, where nothing listens on port %s", r.Name, w.URL, u.Port())
			}
		}
	}
	if hooks == 0 {
		t.Error("alertmanager.yml has no webhook receiver")
	}
}

// TestComposeGrafana: Grafana 10.0 loads the unsigned plugin from its build
// folder and the provisioning, whose variables it sets to URLs of services that
// exist.
func TestComposeGrafana(t *testing.T) {
	c := readCompose(t)
	s := c.Services["grafana"]
	if s == nil {
		t.Fatal("no grafana")
	}
	if !regexp.MustCompile(`^grafana/grafana:10\.0\.\d+$`).MatchString(s.Image) {
		t.Errorf("grafana: image %q, want grafana/grafana:10.0.x (the plugin's grafanaDependency and tested version)", s.Image)
	}
	// Grafana runs the backend binary built for its own platform, and make plugin
	// builds one platform's.
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`gpx_kwindow_([a-z0-9]+)_([a-z0-9]+)`).FindSubmatch(makefile); m == nil {
		t.Error("the Makefile builds no gpx_kwindow_OS_ARCH")
	} else if want := string(m[1]) + "/" + string(m[2]); s.Platform != want {
		t.Errorf("grafana: platform %q, want %s, the platform make plugin builds the backend for", s.Platform, want)
	}
	allowed := strings.Split(s.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"], ",")
	if !slices.Contains(allowed, pluginID) {
		t.Errorf("grafana: GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS %v lacks %s", allowed, pluginID)
	}
	plugins := s.Environment["GF_PATHS_PLUGINS"]
	if plugins == "" {
		plugins = "/var/lib/grafana/plugins" // the image's default
	}
	provisioning := s.Environment["GF_PATHS_PROVISIONING"]
	if provisioning == "" {
		provisioning = "/etc/grafana/provisioning"
	}
	var plugin, prov bool
	for _, m := range s.mounts(t, "grafana") {
		switch {
		case m.source == "./grafana-plugin/dist" && path.Dir(m.target) == plugins:
			plugin = true
		case m.source == "./dashboards/provisioning" && m.target == provisioning:
			prov = true
		}
	}
	if !plugin {
		t.Errorf("grafana: ./grafana-plugin/dist is not mounted as a folder of %s", plugins)
	}
	if !prov {
		t.Errorf("grafana: ./dashboards/provisioning is not mounted at %s", provisioning)
	}
	if home := s.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if m, rest, ok := s.mountOf(t, "grafana", home); !ok {
			t.Errorf("grafana: home dashboard %s is not mounted", home)
		} else if _, err := os.Stat(filepath.Join("..", m.source, rest)); err != nil {
			t.Errorf("grafana: home dashboard: %v", err)
		}
	}
	for v, files := range provisioningEnv(t) {
		val, ok := s.Environment[v]
		if !ok {
			t.Errorf("grafana: %s (used by %v) is not set", v, files)
			continue
		}
		if v == "PROVISIONING_DIR" {
			if val != provisioning {
				t.Errorf("grafana: PROVISIONING_DIR %s, but the provisioning is mounted at %s", val, provisioning)
			}
			continue
		}
		u, err := url.Parse(val)
		if err != nil || u.Scheme != "http" {
			t.Errorf("grafana: %s=%q is not an http URL", v, val)
			continue
		}
		target := c.Services[u.Hostname()]
		if target == nil {
			t.Errorf("grafana: %s=%s: %s is no service", v, val, u.Hostname())
			continue
		}
		if _, err := strconv.Atoi(u.Port()); err != nil {
			t.Errorf("grafana: %s=%s: no port", v, val)
		}
		if s.DependsOn[u.Hostname()].Condition == "" {
			t.Errorf("grafana: %s=%s, but grafana does not depend on %s", v, val, u.Hostname())
		}
	}
}

// TestDockerignore: the build context leaves out what the image does not need,
// and keeps what exporter/Dockerfile copies.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimSuffix(l, "/"))
		}
	}
	ignored := func(p string) bool {
		for _, pat := range patterns {
			// Docker's matching, for the patterns used here: ** matches any
			// folders, and a matched folder excludes what is below it.
			for q := p; q != "."; q = path.Dir(q) {
				if ok, _ := path.Match(pat, q); ok {
					return true
				}
				if rest, ok := strings.CutPrefix(pat, "**/"); ok {
					if ok, _ := path.Match(rest, path.Base(q)); ok {
						return true
					}
				}
			}
		}
		return false
	}
	for _, p := range []string{".git", "bin/kwindow", "data/x", "node_modules/a", "grafana-plugin/node_modules/a", "grafana-plugin/dist/module.js", "exporter/stream/stream.test"} {
		if !ignored(p) {
			t.Errorf("%s is in the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "exporter/main.go", "exporter/config/kwindow.example.yml", "third_party/kfake/go.mod"} {
		if ignored(p) {
			t.Errorf("%s is left out of the build context, but the image needs it", p)
		}
	}
}
