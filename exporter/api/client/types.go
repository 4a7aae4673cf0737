package client

// Envelope is every answer of the API: Status "success" with Data, or "error"
// with Error, as in Prometheus' HTTP API.
type Envelope struct {
	Status string     `json:"status"`
	Data   any        `json:"data,omitempty"`
	Error  *ErrorInfo `json:"error,omitempty"`
}

// The error codes: stable, for programs to branch on.
const (
	CodeBadQuery         = "bad_query"          // 400: Param names the parameter at fault
	CodeUnauthorized     = "unauthorized"       // 401: no token, or not one the server accepts
	CodeNotFound         = "not_found"          // 404: no such route or aggregation
	CodeMethodNotAllowed = "method_not_allowed" // 405: see the Allow header
	CodeLimitExceeded    = "limit_exceeded"     // 422: Limit names the limit
	CodeInternal         = "internal"           // 500: logged by the server
	CodeUnavailable      = "unavailable"        // 503: retry after RetryAfterSeconds
	CodeTimeout          = "timeout"            // 504: api.timeout passed
)

// ErrorInfo is the error of an answer.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Param is the query parameter at fault (bad_query): "step", "match[]".
	Param string `json:"param,omitempty"`
	// Limit, Max and Need, for limit_exceeded: the configured limit
	// ("max_points", "max_keys", "max_subscribers"), its value, and at least
	// how many the answer needed.
	Limit string `json:"limit,omitempty"`
	Max   int    `json:"max,omitempty"`
	Need  int    `json:"need,omitempty"`
	// Partitions, for unavailable: the repartition partitions that could not
	// be read.
	Partitions []int32 `json:"partitions,omitempty"`
	// RetryAfterSeconds, for unavailable: as the Retry-After header.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// Status is the consumer group as the instance that answered sees it.
type Status struct {
	Instance   string `json:"instance"`    // its advertised URL
	InstanceID string `json:"instance_id"` // its stream.instance_id
	Version    string `json:"version"`     // its kwindow version
	// Ready: every partition of this instance is restored and running.
	Ready  bool   `json:"ready"`
	Reason string `json:"reason"` // why not ready; empty when ready
	// Partitions is the number of repartition partitions: the stage-2 tasks of
	// the group, among which the keys are spread.
	Partitions  int32           `json:"partitions"`
	Members     []Member        `json:"members"`
	StreamTimes []PartitionTime `json:"stream_times"` // of the partitions this instance owns
}

// Member is one instance of the group.
type Member struct {
	URL        string  `json:"url"`
	InstanceID string  `json:"instance_id"`
	Partitions []int32 `json:"partitions"` // the stage-2 partitions it owns, ascending
	Restoring  []int32 `json:"restoring"`  // those of Partitions still restoring
}

// PartitionTime is the stream time of one partition: windows that close before
// it are final.
type PartitionTime struct {
	Partition  int32      `json:"partition"`
	StreamTime *Timestamp `json:"stream_time"` // null before the partition's first event
}

// Aggregation describes one configured aggregation and what it can answer.
type Aggregation struct {
	Name    string     `json:"name"`
	Window  WindowSpec `json:"window"`
	GroupBy []string   `json:"group_by"` // its dimensions, in key order
	// Measures are the measure names its queries take: count and rate always;
	// the error counts and ratios when events carry a status; sum, min, max and
	// avg when values are kept; pNN of the configured quantiles when a sketch is
	// kept (and then any other pNN or qX: see AnyQuantile).
	Measures    []string  `json:"measures"`
	Quantiles   []float64 `json:"quantiles"`    // configured, as exported to Prometheus
	AnyQuantile bool      `json:"any_quantile"` // a sketch is kept: every pNN and qX can be asked
	// SketchRelativeError bounds the relative error of a quantile (null
	// without a sketch): sketch.RelativeError of the configured schema.
	SketchRelativeError *float64 `json:"sketch_relative_error"`
	Retention           Duration `json:"retention"`
	// Rollups are the coarser resolutions it is also kept at, finest first,
	// each with its own retention; empty without rollups.
	Rollups []Rollup `json:"rollups"`
	// TimeRange is the window starts it can answer for (at some resolution:
	// the longest retention counts), null before any event.
	TimeRange *TimeRange `json:"time_range"`
}

// Rollup is a resolution an aggregation is also kept at.
type Rollup struct {
	Resolution Duration `json:"resolution"`
	Retention  Duration `json:"retention"`
}

// WindowSpec is an aggregation's windows.
type WindowSpec struct {
	Type    string   `json:"type"`              // tumbling, hopping, sliding, session
	Size    Duration `json:"size,omitempty"`    // tumbling, hopping, sliding
	Advance Duration `json:"advance,omitempty"` // hopping
	Gap     Duration `json:"gap,omitempty"`     // session
	Grace   Duration `json:"grace"`
}

// TimeRange is the span of window starts an aggregation holds: from the least
// stream time minus retention to the greatest stream time.
type TimeRange struct {
	From Timestamp `json:"from"`
	To   Timestamp `json:"to"`
	// Basis says whose stream times it is computed from: "local", the
	// partitions of the instance that answered (other instances' partitions
	// may be a little ahead or behind).
	Basis string `json:"basis"`
}

// Coverage says where an answer came from. It is part of every query answer.
type Coverage struct {
	Partitions []int32          `json:"partitions"` // the repartition partitions read, ascending
	Stale      []StalePartition `json:"stale"`      // read while still restoring (stale=true only)
	Instances  []string         `json:"instances"`  // the instances that answered
}

// StalePartition is a partition read while still restoring: its answer misses
// up to Behind changelog records.
type StalePartition struct {
	Partition int32 `json:"partition"`
	Behind    int64 `json:"behind"`
}

// RangeResult is the answer of /api/v1/query_range.
type RangeResult struct {
	Aggregation string    `json:"aggregation"`
	GroupBy     []string  `json:"group_by"` // the label names of every series
	Measures    []string  `json:"measures"` // the keys of every point's values, as asked
	From        Timestamp `json:"from"`
	To          Timestamp `json:"to"`
	Step        Duration  `json:"step"`
	// MergedWindows: a point can merge several windows of one key (a step
	// longer than the window, or session windows), and does so exactly: counts
	// add and sketches merge bucket by bucket, so a quantile is that of every
	// event of the step, never an average of the windows' quantiles.
	MergedWindows bool     `json:"merged_windows"`
	Series        []Series `json:"series"`
	// Complete: every point is complete and no partition was read stale.
	Complete bool `json:"complete"`
	// StreamTime is the least stream time of the partitions read (null when
	// none has seen an event).
	StreamTime *Timestamp `json:"stream_time"`
	Coverage
}

// Series is the points of one group-by key.
type Series struct {
	Labels map[string]string `json:"labels"` // group_by dimension -> value
	Points []Point           `json:"points"` // ascending; steps without windows are left out
}

// Point is the windows of a series that start in one step, merged.
type Point struct {
	Start Timestamp `json:"start"` // the step, [start, end)
	End   Timestamp `json:"end"`
	// Windows is how many (key, window) pairs it merged; Open how many of those
	// were still open (their values may still change).
	Windows int `json:"windows"`
	Open    int `json:"open"`
	// Complete: no window is open, and every partition read is past the close
	// time of the last window that can start in the step.
	Complete bool             `json:"complete"`
	Values   map[string]Value `json:"values"` // measure (as asked) -> value
	// Resolution is the coarsest resolution the point read: the window size
	// (0 for session windows), or that of a rollup of the aggregation, which merges its windows exactly
	// (finer windows fill the step's edges off the rollup's boundaries). Zero
	// from a server older than rollups.
	Resolution Duration `json:"resolution"`
}

// LatestResult is the answer of /api/v1/latest.
type LatestResult struct {
	Aggregation string      `json:"aggregation"`
	GroupBy     []string    `json:"group_by"`
	Measures    []string    `json:"measures"`
	Keys        []LatestKey `json:"keys"` // ascending by key
	Coverage
}

// LatestKey is the latest windows of one key.
type LatestKey struct {
	Labels    map[string]string `json:"labels"`
	Partition int32             `json:"partition"` // the partition that owns the key
	Closed    *Window           `json:"closed"`    // the latest closed window; null if none
	Open      []Window          `json:"open"`      // windows still open, ascending: partial
}

// Window is one window of one key.
type Window struct {
	Start   Timestamp        `json:"start"`
	End     Timestamp        `json:"end"`
	Last    Timestamp        `json:"last"`    // the latest event time in it
	Partial bool             `json:"partial"` // still open: its values may change
	Values  map[string]Value `json:"values"`
}

// TopKResult is the answer of /api/v1/topk.
type TopKResult struct {
	Aggregation string      `json:"aggregation"`
	GroupBy     []string    `json:"group_by"`
	Measure     string      `json:"measure"`
	K           int         `json:"k"`
	Bottom      bool        `json:"bottom"`
	From        Timestamp   `json:"from"`
	To          Timestamp   `json:"to"`
	Entries     []TopKEntry `json:"entries"` // best first; keys without a value last
	// Complete: every entry is complete and no partition was read stale.
	Complete   bool       `json:"complete"`
	StreamTime *Timestamp `json:"stream_time"`
	Coverage
}

// TopKEntry is one key over the whole time range.
type TopKEntry struct {
	Labels   map[string]string `json:"labels"`
	Value    Value             `json:"value"`
	Windows  int               `json:"windows"`
	Open     int               `json:"open"`
	Complete bool              `json:"complete"`
}

// ValuesResult is the answer of /api/v1/values.
type ValuesResult struct {
	Aggregation string   `json:"aggregation"`
	Dimension   string   `json:"dimension"`
	Values      []string `json:"values"`    // ascending
	Truncated   bool     `json:"truncated"` // more values matched than the limit
	Coverage
}

// WindowUpdate is the data of an "update" event of /api/v1/stream: one window
// of one key as a transaction committed it.
type WindowUpdate struct {
	Aggregation string            `json:"aggregation"`
	Labels      map[string]string `json:"labels"`
	Partition   int32             `json:"partition"`
	Start       Timestamp         `json:"start"`
	End         Timestamp         `json:"end"`
	Last        Timestamp         `json:"last"`
	Partial     bool              `json:"partial"` // still open: later updates follow
	CommittedAt Timestamp         `json:"committed_at"`
	Values      map[string]Value  `json:"values"`
}

// Dropped is the data of the "dropped" event that ends a stream the server
// ended.
type Dropped struct {
	Reason string `json:"reason"`
}
