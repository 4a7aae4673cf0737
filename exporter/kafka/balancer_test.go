package kafka

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member's join metadata carries its URL, and the leader's balancing is the
// cooperative-sticky balancer's, URL or not: the same members with the same
// previous assignment get the same partitions.
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
	got, want := assign(AdvertisingBalancer("http://leader:9897"), members), assign(kgo.CooperativeStickyBalancer(), plain)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("assignment with URLs %v, without %v", got, want)
	}
	if got["a"]["requests"] == nil || !reflect.DeepEqual(got["a"]["requests"], []int32{0, 2}) {
		t.Errorf("member a lost its sticky partitions: %v", got["a"])
	}
	var bad kmsg.ConsumerMemberMetadata
	bad.UserData = append(append([]byte{}, userDataMagic...), 0xff)
	if u, ok := MemberURL(&bad); ok {
		t.Errorf("truncated user data gave URL %q", u)
	}
}
