package cluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// fixedRuntime is a runtime whose stores a test sets.
type fixedRuntime struct {
	mu     sync.Mutex
	stores []stream.StoreInfo
}

func (f *fixedRuntime) Stores() []stream.StoreInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.stores)
}
func (f *fixedRuntime) RepartitionPartitions() int32 { return 2 }
func (f *fixedRuntime) Ready() (bool, string)        { return true, "" }

// switchable is a membership a test changes.
type switchable struct {
	mu sync.Mutex
	ms []api.Member
}

func (s *switchable) Members(context.Context, bool) ([]api.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ms), nil
}

func (s *switchable) set(ms []api.Member) {
	s.mu.Lock()
	s.ms = ms
	s.mu.Unlock()
}

// twoPartitions returns two memory stores holding one window of count n for
// each of the keys given, in the partition each key hashes to.
func twoPartitions(t *testing.T, counts map[string]uint64) [2]store.Store {
	t.Helper()
	var bs [2]store.Batch
	for ep, n := range counts {
		group := store.AppendGroup(nil, []byte(ep))
		p := combine.Partition(combine.AppendDeltaKey(nil, "endpoint_1m", string(group)), 2)
		a := aggregate.New(6, true)
		for range n {
			a.Count++
			a.Values++
			a.Sketch.Add(0.01)
		}
		v, err := aggregate.Value{End: minute, Last: minute - 1, Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		bs[p].Put(store.Key{Agg: "endpoint_1m", Group: group, Start: 0}, v)
	}
	var out [2]store.Store
	for p := range out {
		out[p] = store.NewMemory()
		bs[p].SetCheckpoint(store.Checkpoint{InputOffset: 1, StreamTime: 10 * minute, ChangelogOffsets: map[string]int64{}})
		if err := out[p].Write(&bs[p]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func testNode(t *testing.T, url string, rt Runtime, members Membership) *Node {
	t.Helper()
	cfg, err := benchConfig()
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Config: cfg, URL: url, Members: members, RetryFor: 500 * time.Millisecond, PeerTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.SetRuntime(rt)
	t.Cleanup(n.Close)
	return n
}

func serve(t *testing.T, n *Node) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: n.PeerHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	n.o.URL = "http://" + ln.Addr().String()
}

var countQuery = query.RangeQuery{Aggregation: "endpoint_1m", GroupBy: []string{"endpoint"}, From: 0, To: minute, Step: minute,
	Measures: []query.Measure{{Kind: query.Count}}}

func counts(r *query.RangeResult) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range r.Series {
		out[s.Key[0]] = s.Points[0].Agg.Count
	}
	return out
}

// A partition still restoring answers 503 with Retry-After, naming it; with
// stale reads it answers what it has, and says how far behind it is.
func TestRestoringPartition(t *testing.T) {
	want := map[string]uint64{"/a": 3, "/b": 5, "/c": 7, "/d": 11}
	st := twoPartitions(t, want)
	rt := &fixedRuntime{stores: []stream.StoreInfo{{Partition: 0, Store: st[0]}, {Partition: 1, Store: st[1], Restoring: true, Behind: 1234}}}
	n := testNode(t, "http://self", rt, nil)
	_, _, err := n.Range(context.Background(), countQuery, api.ReadOptions{})
	var ue *api.UnavailableError
	if !errors.As(err, &ue) || !slices.Equal(ue.Partitions, []int32{1}) || ue.RetryAfter <= 0 {
		t.Fatalf("restoring partition: %v; want a 503 naming partition 1 with Retry-After", err)
	}
	r, cov, err := n.Range(context.Background(), countQuery, api.ReadOptions{Stale: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(r); !mapsEqual(got, want) {
		t.Errorf("stale read: %v, want %v", got, want)
	}
	if len(cov.Stale) != 1 || cov.Stale[0] != (api.StalePartition{Partition: 1, Behind: 1234}) {
		t.Errorf("stale read coverage: %+v", cov.Stale)
	}
}

// A partition that moves from one instance to another between the membership
// read and the request is retried at its new owner: the answer is complete and
// counts each partition once.
func TestPartitionMoves(t *testing.T) {
	want := map[string]uint64{"/a": 3, "/b": 5, "/c": 7, "/d": 11, "/e": 13}
	st := twoPartitions(t, want)
	ms := &switchable{}
	rtA := &fixedRuntime{stores: []stream.StoreInfo{{Partition: 0, Store: st[0]}}}
	rtB := &fixedRuntime{}
	rtC := &fixedRuntime{stores: []stream.StoreInfo{{Partition: 1, Store: st[1]}}}
	a, b, c := testNode(t, "", rtA, ms), testNode(t, "", rtB, ms), testNode(t, "", rtC, ms)
	serve(t, a)
	serve(t, b)
	serve(t, c)
	// The membership still says b owns partition 1, which has moved to c.
	ms.set([]api.Member{{URL: a.o.URL, Partitions: []int32{0}}, {URL: b.o.URL, Partitions: []int32{1}}, {URL: c.o.URL}})
	go func() {
		time.Sleep(100 * time.Millisecond)
		ms.set([]api.Member{{URL: a.o.URL, Partitions: []int32{0}}, {URL: b.o.URL}, {URL: c.o.URL, Partitions: []int32{1}}})
	}()
	r, cov, err := a.Range(context.Background(), countQuery, api.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := counts(r); !mapsEqual(got, want) || !slices.Equal(r.Partitions, []int32{0, 1}) {
		t.Errorf("answer %v from partitions %v, want %v from [0 1]", got, r.Partitions, want)
	}
	if !slices.Equal(cov.Instances, sortedStrings(a.o.URL, c.o.URL)) {
		t.Errorf("instances %v, want a and c", cov.Instances)
	}
	// Nobody owns partition 1 for longer than the retry budget: 503 naming it.
	ms.set([]api.Member{{URL: a.o.URL, Partitions: []int32{0}}})
	if _, _, err := a.Range(context.Background(), countQuery, api.ReadOptions{}); !isUnavailable(err, 1) {
		t.Errorf("partition 1 without an owner: %v", err)
	}
	// One key is read from its owner only.
	one := countQuery
	one.Filters = []query.Matcher{{Dim: "endpoint", Op: query.Equal, Value: "/d"}}
	ms.set([]api.Member{{URL: a.o.URL, Partitions: []int32{0}}, {URL: c.o.URL, Partitions: []int32{1}}})
	r, _, err = b.Range(context.Background(), one, api.ReadOptions{})
	if err != nil || len(r.Partitions) != 1 || counts(r)["/d"] != want["/d"] || len(r.Series) != 1 {
		t.Errorf("one key: %v %+v", err, r)
	}
}

func isUnavailable(err error, parts ...int32) bool {
	var ue *api.UnavailableError
	return errors.As(err, &ue) && slices.Equal(ue.Partitions, parts)
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedStrings(s ...string) []string {
	slices.Sort(s)
	return s
}
