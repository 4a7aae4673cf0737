// Versions are pinned exactly: the module proxy here refuses some versions (403) and
// lists few, so each one below is a version verified to download.
//   - grocksdb v1.7.14 matches Debian bookworm's librocksdb-dev 7.8.3 (v1.7.16+ calls
//     C functions 7.8.3 lacks and does not compile).
//   - fastjson is used only by a baseline benchmark of the event decoder.
module github.com/kwindow/kwindow

go 1.26.0

require (
	github.com/alecthomas/kingpin/v2 v2.4.0
	github.com/linxGnu/grocksdb v1.7.14
	github.com/prometheus/common v0.72.0
	github.com/valyala/fastjson v1.6.4
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/alecthomas/units v0.0.0-20240927000941-0f3dac36c52b // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/xhit/go-str2duration/v2 v2.1.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
