package kafka

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member's join metadata carries its URL, and the leader balances as the
// cooperative-sticky balancer does, URL or not: the same members with the same
// previous assignment get partitions of the same shape, and keep theirs.
func TestAdvertisingBalancer(t *testing.T) {
	prev := map[string][]int32{"requests": {0, 2}, "kwindow-repartition": {1}}
	var members, plain []kmsg.JoinGroupResponseMember
	for i, url := range []string{"http://a:9897", "http://b:9897", ""} {
		id := string(rune('a' + i))
		var cur map[string][]int32
		if i == 0 {
			cur = prev
		}
		adv := AdvertisingBalancer(url).JoinGroupMetadata([]string{"requests", "kwindow-repartition"}, cur, 3)
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(adv); err != nil {
			t.Fatalf("the advertised metadata does not decode: %v", err)
		}
		if got, ok := MemberURL(&meta); !ok || got != url {
			t.Errorf("member %s: MemberURL = %q, %v; want %q", id, got, ok, url)
		}
		members = append(members, kmsg.JoinGroupResponseMember{MemberID: id, ProtocolMetadata: adv})
		raw := kgo.CooperativeStickyBalancer().JoinGroupMetadata([]string{"requests", "kwindow-repartition"}, cur, 3)
		plain = append(plain, kmsg.JoinGroupResponseMember{MemberID: id, ProtocolMetadata: raw})
	}
	topics := map[string]int32{"requests": 6, "kwindow-repartition": 6}
	assign := func(b kgo.GroupBalancer, ms []kmsg.JoinGroupResponseMember) map[string]map[string][]int32 {
		mb, _, err := b.MemberBalancer(ms)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string][]int32{}
		into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range into.IntoSyncAssignment() {
			m, err := b.ParseSyncAssignment(a.MemberAssignment)
			if err != nil {
				t.Fatal(err)
			}
			out[a.MemberID] = m
		}
		return out
	}
	// The URLs change nothing in the balancing: as with cooperative-sticky alone
	// (whose choice among equal members is not deterministic, so the two are
	// compared by shape), every partition goes to exactly one member, the
	// members get the same number of partitions, and a keeps what it had.
	got, want := assign(AdvertisingBalancer("http://leader:9897"), members), assign(kgo.CooperativeStickyBalancer(), plain)
	shape := func(a map[string]map[string][]int32) (owners map[string]int, sizes []int) {
		owners = map[string]int{}
		for _, topics := range a {
			n := 0
			for topic, ps := range topics {
				for _, p := range ps {
					owners[fmt.Sprintf("%s-%d", topic, p)]++
				}
				n += len(ps)
			}
			sizes = append(sizes, n)
		}
		slices.Sort(sizes)
		return owners, sizes
	}
	gotOwners, gotSizes := shape(got)
	_, wantSizes := shape(want)
	for topic, n := range topics {
		for p := range n {
			if c := gotOwners[fmt.Sprintf("%s-%d", topic, p)]; c != 1 {
				t.Errorf("%s-%d has %d owners, want 1: %v", topic, p, c, got)
			}
		}
	}
	if !slices.Equal(gotSizes, wantSizes) || len(got) != 3 {
		t.Errorf("members' partition counts %v with URLs, %v without: %v", gotSizes, wantSizes, got)
	}
	for topic, ps := range prev {
		for _, p := range ps {
			if !slices.Contains(got["a"][topic], p) {
				t.Errorf("member a lost its sticky partition %s-%d: %v", topic, p, got["a"])
			}
		}
	}
	var bad kmsg.ConsumerMemberMetadata
	bad.UserData = append(append([]byte{}, userDataMagic...), 0xff)
	if u, ok := MemberURL(&bad); ok {
		t.Errorf("truncated user data gave URL %q", u)
	}
}
