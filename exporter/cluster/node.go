// Package cluster answers the query API over the state stores of the whole
// consumer group, as Kafka Streams' interactive queries would if they did the
// RPC themselves: any instance takes a query, reads the partitions it owns,
// asks the owners of the others (found in the group's membership, where each
// instance advertises its API URL, see kafka.AdvertisingBalancer), and merges the
// answers exactly (counts add, sketches merge bucket by bucket).
//
// Two rules keep answers right while partitions move:
//
//   - A partition is read from one store only: the answers of every instance
//     cover disjoint partitions (query's Merge refuses overlaps), and a partition
//     no instance answers for is retried, then reported missing with a 503.
//   - A store is read only while its task runs (restored), so it holds exactly
//     what committed transactions wrote; a store still restoring answers only
//     stale reads, which say how far behind it is.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// Runtime is what a Node needs of the stream runtime (*stream.Runtime). The
// runtime takes the node's Sink when it is built, so a Node gets its runtime
// after (SetRuntime); until then it answers 503.
type Runtime interface {
	Stores() []stream.StoreInfo
	RepartitionPartitions() int32
	Ready() (bool, string)
}

// Options configure a Node.
type Options struct {
	Config *config.Config
	// URL is this instance's advertised API URL.
	URL string
	// Members lists the group's members; nil: this instance alone.
	Members Membership
	// Client reaches the other instances; nil: a client with pooled connections.
	Client *http.Client
	// PeerToken gives the bearer token sent to the other instances (asked per
	// request, so a rotated tokens file takes effect); nil sends none.
	PeerToken   func() string
	PeerTimeout time.Duration // per request to another instance; default 5s
	// RetryFor bounds how long a query retries partitions that have no owner (a
	// rebalance) before answering 503; default 3s, and never past the query's
	// deadline.
	RetryFor time.Duration
	Limits   query.Limits
	Logger   *slog.Logger
}

// Node answers the query API for one instance: it implements api.Backend.
type Node struct {
	o     Options
	rt    atomic.Pointer[Runtime]
	local *query.Local
	hub   *Hub
	cl    *http.Client
	log   *slog.Logger
}

var _ api.Backend = (*Node)(nil)

// New returns a Node for a validated configuration.
func New(o Options) (*Node, error) {
	l, err := query.New(o.Config, o.Limits)
	if err != nil {
		return nil, err
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 5 * time.Second
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 3 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cl := o.Client
	if cl == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		cl = &http.Client{Transport: t}
	}
	n := &Node{o: o, local: l, cl: cl, log: o.Logger}
	n.hub = newHub(o.Config, l, o.Logger)
	return n, nil
}

// SetRuntime gives the node the runtime whose stores it reads.
func (n *Node) SetRuntime(rt Runtime) { n.rt.Store(&rt) }

// runtime is the runtime, or a stand-in that has nothing before SetRuntime.
func (n *Node) runtime() Runtime {
	if rt := n.rt.Load(); rt != nil {
		return *rt
	}
	return noRuntime{}
}

type noRuntime struct{}

func (noRuntime) Stores() []stream.StoreInfo   { return nil }
func (noRuntime) RepartitionPartitions() int32 { return 0 }
func (noRuntime) Ready() (bool, string)        { return false, "starting" }

// Sink is what the stream runtime hands committed windows to, for live
// subscribers (stream.Options.Sink).
func (n *Node) Sink() stream.Sink { return n.hub }

// Close ends the live subscriptions.
func (n *Node) Close() { n.hub.close() }

// Local is the query engine the node answers with.
func (n *Node) Local() *query.Local { return n.local }

// partitionsFor returns the repartition partitions a query over sel must read:
// the owner of the one key its matchers pin, or every partition.
func (n *Node) partitionsFor(aggregation string, sel *query.Selector) ([]int32, error) {
	parts := n.runtime().RepartitionPartitions()
	if parts <= 0 {
		return nil, &api.UnavailableError{Reason: "not yet connected to Kafka", RetryAfter: time.Second}
	}
	if group, ok := sel.Exact(); ok {
		key := combine.AppendDeltaKey(nil, aggregation, string(group))
		return []int32{combine.Partition(key, parts)}, nil
	}
	all := make([]int32, parts)
	for i := range all {
		all[i] = int32(i)
	}
	return all, nil
}

// sources returns the local sources among parts: running tasks' stores, and with
// stale those still restoring. The rest are not here.
func (n *Node) sources(parts []int32, stale bool) (srcs []query.Source, lagging []api.StalePartition, restoring, absent []int32) {
	open := map[int32]stream.StoreInfo{}
	for _, s := range n.runtime().Stores() {
		open[s.Partition] = s
	}
	for _, p := range parts {
		s, ok := open[p]
		switch {
		case !ok:
			absent = append(absent, p)
		case s.Restoring && !stale:
			restoring = append(restoring, p)
		default:
			// The stream time before the data: it may only understate what the
			// windows read next have reached.
			st := int64(engine.NoTime)
			if cp, ok, err := s.Store.Checkpoint(); err == nil && ok {
				st = cp.StreamTime
			} else if err != nil {
				absent = append(absent, p) // closed meanwhile: moved away
				continue
			}
			srcs = append(srcs, query.Source{Partition: p, Store: s.Store, StreamTime: st})
			if s.Restoring {
				lagging = append(lagging, api.StalePartition{Partition: p, Behind: s.Behind})
			}
		}
	}
	return srcs, lagging, restoring, absent
}

// answer is what one instance answered for some partitions.
type answer[R any] struct {
	res     R
	url     string
	stale   []api.StalePartition
	missing []int32 // asked for but not answered
	reason  string  // why missing
	err     error   // the request failed; every partition asked is missing
}

// gather answers a query over parts: locally for the partitions here, by asking
// the owners of the others, merging each answer into the local one. It retries
// partitions without an answer (moved in a rebalance, owner unreachable) for up
// to RetryFor, and answers 503 naming those still missing.
func gather[R any](ctx context.Context, n *Node, parts []int32, o api.ReadOptions,
	local func(ctx context.Context, srcs []query.Source) (R, error),
	remote func(ctx context.Context, url string, parts []int32) answer[R],
	merge func(dst, src R) error) (R, api.Coverage, error) {
	var zero R
	srcs, stale, restoring, absent := n.sources(parts, o.Stale)
	res, err := local(ctx, srcs)
	if err != nil {
		return zero, api.Coverage{}, mapStoreErr(err)
	}
	cov := api.Coverage{Stale: stale}
	if len(srcs) > 0 || len(absent) == 0 {
		cov.Instances = append(cov.Instances, n.o.URL)
	}
	if len(restoring) > 0 {
		// Restoration takes seconds to minutes: no point waiting for it here.
		return zero, cov, &api.UnavailableError{Partitions: restoring, Reason: "restoring from the changelog (ask with stale=true to read what is restored so far)", RetryAfter: 5 * time.Second}
	}
	deadline := time.Now().Add(n.o.RetryFor)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	refresh := false
	backoff := 50 * time.Millisecond
	for len(absent) > 0 {
		owners, err := n.owners(ctx, refresh)
		if err != nil {
			return zero, cov, err
		}
		byURL := map[string][]int32{}
		var missing []int32
		reasons := map[string]bool{}
		for _, p := range absent {
			u, ok := owners[p]
			switch {
			case !ok:
				missing = append(missing, p)
				reasons["no instance owns them (the group is rebalancing)"] = true
			case u == n.o.URL:
				// Assigned here but not (yet) open: restoring starts, or it just left.
				missing = append(missing, p)
				reasons["moving to or from this instance"] = true
			default:
				byURL[u] = append(byURL[u], p)
			}
		}
		answers := make([]answer[R], 0, len(byURL))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for u, ps := range byURL {
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, n.o.PeerTimeout)
				a := remote(pctx, u, ps)
				cancel()
				if a.err != nil {
					a.missing, a.reason = ps, fmt.Sprintf("instance %s did not answer: %v", u, a.err)
				}
				a.url = u
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			})
		}
		wg.Wait()
		sort.Slice(answers, func(i, j int) bool { return answers[i].url < answers[j].url })
		for _, a := range answers {
			var qe *query.QueryError
			var le *query.LimitError
			if errors.As(a.err, &qe) || errors.As(a.err, &le) {
				return zero, cov, a.err
			}
			if a.err == nil {
				if err := merge(res, a.res); err != nil {
					return zero, cov, err
				}
				if len(a.missing) < len(byURL[a.url]) {
					cov.Instances = append(cov.Instances, a.url)
				}
				cov.Stale = append(cov.Stale, a.stale...)
			}
			if len(a.missing) > 0 {
				missing = append(missing, a.missing...)
				reasons[a.reason] = true
			}
		}
		if len(missing) == 0 {
			break
		}
		slices.Sort(missing)
		if time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			rs := slices.Sorted(func(yield func(string) bool) {
				for r := range reasons {
					if !yield(r) {
						return
					}
				}
			})
			return zero, cov, &api.UnavailableError{Partitions: missing, Reason: strings.Join(rs, "; "), RetryAfter: time.Second}
		}
		select {
		case <-ctx.Done():
			return zero, cov, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
		absent, refresh = missing, true
		// Partitions that moved here meanwhile are read locally.
		var more []query.Source
		more, stale, restoring, absent = n.sources(absent, o.Stale)
		if len(restoring) > 0 {
			return zero, cov, &api.UnavailableError{Partitions: restoring, Reason: "restoring from the changelog (ask with stale=true to read what is restored so far)", RetryAfter: 5 * time.Second}
		}
		if len(more) > 0 {
			r, err := local(ctx, more)
			if err != nil {
				return zero, cov, mapStoreErr(err)
			}
			if err := merge(res, r); err != nil {
				return zero, cov, err
			}
			cov.Stale = append(cov.Stale, stale...)
			if !slices.Contains(cov.Instances, n.o.URL) {
				cov.Instances = append(cov.Instances, n.o.URL)
			}
		}
	}
	slices.Sort(cov.Instances)
	slices.SortFunc(cov.Stale, func(a, b api.StalePartition) int { return int(a.Partition - b.Partition) })
	return res, cov, nil
}

// mapStoreErr turns a store closed under a query (its partition moved away
// mid-read) into a 503.
func mapStoreErr(err error) error {
	if errors.Is(err, store.ErrClosed) {
		return &api.UnavailableError{Reason: "a partition moved away while it was read", RetryAfter: time.Second}
	}
	return err
}

// owners maps each repartition partition to the URL of the instance it is
// assigned to.
func (n *Node) owners(ctx context.Context, refresh bool) (map[int32]string, error) {
	if n.o.Members == nil {
		return map[int32]string{}, nil
	}
	ms, err := n.o.Members.Members(ctx, refresh)
	if err != nil {
		return nil, &api.UnavailableError{Reason: "cannot list the group's members: " + err.Error(), RetryAfter: time.Second}
	}
	out := map[int32]string{}
	for _, m := range ms {
		for _, p := range m.Partitions {
			out[p] = m.URL
		}
	}
	return out, nil
}

func (n *Node) Range(ctx context.Context, q query.RangeQuery, o api.ReadOptions) (*query.RangeResult, api.Coverage, error) {
	sel, err := n.local.Select(q.Aggregation, q.Filters, q.Measures)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	parts, err := n.partitionsFor(q.Aggregation, sel)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	lim := n.local.Limits()
	return gather(ctx, n, parts, o,
		func(ctx context.Context, srcs []query.Source) (*query.RangeResult, error) {
			return n.local.Range(ctx, srcs, q)
		},
		func(ctx context.Context, url string, ps []int32) answer[*query.RangeResult] {
			var a answer[*query.RangeResult]
			resp, err := n.ask(ctx, url, &peerRequest{Range: &q, Partitions: ps, Stale: o.Stale})
			if err == nil {
				a.res, a.stale, a.missing, a.reason = resp.Range, resp.Stale, resp.Missing, resp.Reason
				if a.res == nil {
					err = errors.New("empty answer")
				}
			}
			a.err = err
			return a
		},
		func(dst, src *query.RangeResult) error { return dst.Merge(src, lim) })
}

func (n *Node) Latest(ctx context.Context, q query.LatestQuery, o api.ReadOptions) (*query.LatestResult, api.Coverage, error) {
	sel, err := n.local.Select(q.Aggregation, q.Filters, q.Measures)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	parts, err := n.partitionsFor(q.Aggregation, sel)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	lim := n.local.Limits()
	return gather(ctx, n, parts, o,
		func(ctx context.Context, srcs []query.Source) (*query.LatestResult, error) {
			return n.local.Latest(ctx, srcs, q)
		},
		func(ctx context.Context, url string, ps []int32) answer[*query.LatestResult] {
			var a answer[*query.LatestResult]
			resp, err := n.ask(ctx, url, &peerRequest{Latest: &q, Partitions: ps, Stale: o.Stale})
			if err == nil {
				a.res, a.stale, a.missing, a.reason = resp.Latest, resp.Stale, resp.Missing, resp.Reason
				if a.res == nil {
					err = errors.New("empty answer")
				}
			}
			a.err = err
			return a
		},
		func(dst, src *query.LatestResult) error { return dst.Merge(src, lim) })
}

func (n *Node) TopK(ctx context.Context, q query.TopKQuery, o api.ReadOptions) (*query.TopKResult, api.Coverage, error) {
	sel, err := n.local.Select(q.Aggregation, q.Filters, []query.Measure{q.Measure})
	if err != nil {
		return nil, api.Coverage{}, err
	}
	parts, err := n.partitionsFor(q.Aggregation, sel)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	lim := n.local.Limits()
	r, cov, err := gather(ctx, n, parts, o,
		func(ctx context.Context, srcs []query.Source) (*query.TopKResult, error) {
			return n.local.TopK(ctx, srcs, q)
		},
		func(ctx context.Context, url string, ps []int32) answer[*query.TopKResult] {
			var a answer[*query.TopKResult]
			resp, err := n.ask(ctx, url, &peerRequest{TopK: &q, Partitions: ps, Stale: o.Stale})
			if err == nil {
				a.res, a.stale, a.missing, a.reason = resp.TopK, resp.Stale, resp.Missing, resp.Reason
				if a.res == nil {
					err = errors.New("empty answer")
				}
			}
			a.err = err
			return a
		},
		func(dst, src *query.TopKResult) error { return dst.Merge(src, lim) })
	if err == nil {
		r.Cut()
	}
	return r, cov, err
}

func (n *Node) Values(ctx context.Context, q query.ValuesQuery, o api.ReadOptions) (*query.ValuesResult, api.Coverage, error) {
	sel, err := n.local.Select(q.Aggregation, q.Filters, nil)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	parts, err := n.partitionsFor(q.Aggregation, sel)
	if err != nil {
		return nil, api.Coverage{}, err
	}
	return gather(ctx, n, parts, o,
		func(ctx context.Context, srcs []query.Source) (*query.ValuesResult, error) {
			return n.local.Values(ctx, srcs, q)
		},
		func(ctx context.Context, url string, ps []int32) answer[*query.ValuesResult] {
			var a answer[*query.ValuesResult]
			resp, err := n.ask(ctx, url, &peerRequest{Values: &q, Partitions: ps, Stale: o.Stale})
			if err == nil {
				a.res, a.stale, a.missing, a.reason = resp.Values, resp.Stale, resp.Missing, resp.Reason
				if a.res == nil {
					err = errors.New("empty answer")
				}
			}
			a.err = err
			return a
		},
		func(dst, src *query.ValuesResult) error { return dst.Merge(src) })
}

// Status is the group as this instance sees it.
func (n *Node) Status(ctx context.Context) (api.Status, error) {
	ready, reason := n.runtime().Ready()
	st := api.Status{Instance: n.o.URL, InstanceID: n.o.Config.Stream.InstanceID, Ready: ready, Reason: reason,
		Partitions: n.runtime().RepartitionPartitions(), StreamTimes: map[int32]int64{}}
	var mine, restoring []int32
	for _, s := range n.runtime().Stores() {
		mine = append(mine, s.Partition)
		if s.Restoring {
			restoring = append(restoring, s.Partition)
			continue
		}
		if cp, ok, err := s.Store.Checkpoint(); err == nil && ok {
			st.StreamTimes[s.Partition] = cp.StreamTime
		}
	}
	if n.o.Members != nil {
		ms, err := n.o.Members.Members(ctx, false)
		if err != nil {
			return st, &api.UnavailableError{Reason: "cannot list the group's members: " + err.Error(), RetryAfter: time.Second}
		}
		for _, m := range ms {
			if m.URL == n.o.URL {
				m.Restoring = restoring
			}
			st.Members = append(st.Members, m)
		}
	} else {
		st.Members = []api.Member{{URL: n.o.URL, InstanceID: n.o.Config.Stream.InstanceID, Partitions: mine, Restoring: restoring}}
	}
	return st, nil
}
