package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/query"
)

// Backend answers queries over the state stores of the whole consumer group:
// the stores of this instance and, by fan-out, those of the others. Package
// cluster implements it; the handlers of this package turn its answers into
// JSON. Every method is safe for concurrent use.
//
// Errors: a *query.QueryError (a bad query, 400), a *query.LimitError (an
// answer too large, 422), an *UnavailableError (partitions that cannot be read
// now, 503 with Retry-After), the context's error (timeout: 504; the client went
// away), anything else 500. A QueryError's Param names the query's field
// (filters[i], measures[i], group_by[i], step, ...); the handlers name the HTTP
// parameter instead (match[], measure, group_by, step).
type Backend interface {
	// Range answers a range query. Its result's Partitions are every repartition
	// partition read: all of them, or, when the filters pin the whole key, the
	// key's one owner.
	Range(ctx context.Context, q query.RangeQuery, o ReadOptions) (*query.RangeResult, Coverage, error)
	// Latest answers a latest query: per key, its latest closed window and its
	// open ones.
	Latest(ctx context.Context, q query.LatestQuery, o ReadOptions) (*query.LatestResult, Coverage, error)
	// TopK answers a top-k query; the result is cut to K.
	TopK(ctx context.Context, q query.TopKQuery, o ReadOptions) (*query.TopKResult, Coverage, error)
	// Values answers a dimension values query.
	Values(ctx context.Context, q query.ValuesQuery, o ReadOptions) (*query.ValuesResult, Coverage, error)
	// Status is the group's state as this instance sees it: for /api/v1/status
	// and the aggregations' answerable time ranges.
	Status(ctx context.Context) (Status, error)
	// Subscribe streams the committed changes of the windows that s selects,
	// from every instance of the group, until ctx ends or the subscription is
	// dropped. The channel is closed after the last event; a dropped
	// subscription's last event has Dropped set.
	Subscribe(ctx context.Context, s StreamQuery) (<-chan StreamEvent, error)
}

// ReadOptions say how a query may be answered.
type ReadOptions struct {
	// Stale lets partitions still restoring answer from what they have restored
	// so far (Coverage.Stale says how far behind), instead of a 503.
	Stale bool
}

// Coverage says where an answer came from.
type Coverage struct {
	// Instances are the advertised URLs of the instances that answered, this one
	// included, ascending.
	Instances []string
	// Stale are the partitions read while still restoring (only with
	// ReadOptions.Stale).
	Stale []StalePartition
}

// StalePartition is a partition read while it was still restoring.
type StalePartition struct {
	Partition int32
	// Behind is how many changelog records it had yet to restore.
	Behind int64
}

// UnavailableError: some partitions the query needs cannot be read now:
// restoring, between owners in a rebalance, or owned by an instance that does
// not answer. The handlers answer 503 with Retry-After.
type UnavailableError struct {
	Partitions []int32       // the partitions missing from the answer, ascending
	Reason     string        // for a person: "restoring", "instance http://b:9897 did not answer: ..."
	RetryAfter time.Duration // a hint; at least a second on the wire
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("partitions %v unavailable: %s", e.Partitions, e.Reason)
}

// ErrUnavailable is wrapped by every *UnavailableError.
var ErrUnavailable = errors.New("api: partitions unavailable")

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// Status is the group as one instance sees it.
type Status struct {
	Instance    string // this instance's advertised URL
	InstanceID  string // stream.instance_id
	Ready       bool   // every partition of this instance is restored and running
	Reason      string // why not ready
	Partitions  int32  // repartition partitions: the stage-2 tasks of the group
	Members     []Member
	StreamTimes map[int32]int64 // per partition owned here, unix ms (engine.NoTime before any event)
}

// Member is one instance of the group and the stage-2 partitions it owns.
type Member struct {
	URL        string
	InstanceID string
	Partitions []int32 // ascending
	Restoring  []int32 // of Partitions, those still restoring
}

// StreamQuery selects window updates for a live subscription: like a range
// query's, without a time range or a group-by (each event is one key's window).
type StreamQuery struct {
	Aggregation string
	Filters     []query.Matcher
	Measures    []query.Measure
}

// StreamEvent is one committed change of a window, or the end of a dropped
// subscription.
type StreamEvent struct {
	Update *WindowUpdate
	// Dropped, on the last event of a subscription the server ended: why
	// ("slow consumer: 4096 events buffered", "instance shutting down").
	Dropped string
}

// WindowUpdate is one window of one key as a transaction committed it.
type WindowUpdate struct {
	Aggregation string
	Key         []string // the aggregation's group_by values, in its order
	Partition   int32
	Start, End  int64 // unix ms
	Last        int64 // latest event time in it
	Agg         *aggregate.Aggregate
	Partial     bool  // the window is still open: later commits may change it
	CommittedAt int64 // unix ms at which its transaction committed
}
