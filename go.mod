// Versions are pinned exactly: the module proxy here refuses some versions (403) and
// lists few, so each one below is a version verified to download.
//   - grocksdb v1.7.14 matches Debian bookworm's librocksdb-dev 7.8.3 (v1.7.16+ calls
//     C functions 7.8.3 lacks and does not compile).
//   - fastjson is used only by a baseline benchmark of the event decoder.
//   - kin-openapi v0.153.0 (downloads here) only validates the served OpenAPI document
//     in a test of exporter/api.
//   - prometheus v0.305.0 (Prometheus 3.5 LTS) only parses the dashboards' PromQL in a
//     test of dashboards/; later versions raise indirect dependencies pinned here
//     (golang.org/x/time, modern-go/reflect2, prometheus/common).
module github.com/kwindow/kwindow

go 1.26.0

require (
	github.com/alecthomas/kingpin/v2 v2.4.0
	github.com/getkin/kin-openapi v0.153.0
	github.com/klauspost/compress v1.20.3
	github.com/linxGnu/grocksdb v1.7.14
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.72.0
	github.com/prometheus/exporter-toolkit v0.15.1
	github.com/prometheus/prometheus v0.305.0
	github.com/twmb/franz-go v1.22.2
	github.com/twmb/franz-go/pkg/kadm v1.19.0
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	github.com/twmb/franz-go/pkg/kmsg v1.15.0
	github.com/twmb/franz-go/plugin/kprom v1.3.0
	github.com/valyala/fastjson v1.6.4
	golang.org/x/crypto v0.57.0
	google.golang.org/protobuf v1.36.12
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/alecthomas/units v0.0.0-20240927000941-0f3dac36c52b // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.6.0 // indirect
	github.com/dennwc/varint v1.0.0 // indirect
	github.com/go-openapi/jsonpointer v0.22.5 // indirect
	github.com/go-openapi/swag/jsonname v0.25.5 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grafana/regexp v0.0.0-20240518133315-a468a5bfb3bc // indirect
	github.com/jpillora/backoff v1.0.0 // indirect
	github.com/kr/pretty v0.3.1 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/mdlayher/socket v0.4.1 // indirect
	github.com/mdlayher/vsock v1.2.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/mwitkow/go-conntrack v0.0.0-20190716064945-2f068394615f // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3 // indirect
	github.com/xhit/go-str2duration/v2 v2.1.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	go.yaml.in/yaml/v4 v4.0.0 // indirect
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.14.0 // indirect
)

// kfake v0.0.0-20260918054303-01f206a7e32c with one fix to which transaction
// markers compaction keeps (it hid a producer's later committed records from
// read_committed readers, and kept every marker of a busy producer for good): see
// third_party/kfake/README.md.
replace github.com/twmb/franz-go/pkg/kfake => ./third_party/kfake
