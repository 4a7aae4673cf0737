package kafka

import (
	"bytes"
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AdvertisingBalancer is kgo's cooperative-sticky balancer, which also publishes
// url, this member's query API address, in the metadata it joins the group with,
// as Kafka Streams publishes application.server. Any member, or anyone who
// describes the group, reads it back with MemberURL.
//
// The URL travels in the consumer protocol's user data, ahead of the sticky
// balancer's own: the wrapper puts it there when joining and takes it off
// before the leader's sticky balancer reads the members' metadata. The protocol
// name stays "cooperative-sticky", so members with and without a URL (an older
// version during a rolling upgrade) balance together.
func AdvertisingBalancer(url string) kgo.GroupBalancer {
	return &advertising{GroupBalancer: kgo.CooperativeStickyBalancer(), url: url}
}

type advertising struct {
	kgo.GroupBalancer
	url string
}

// userDataMagic starts kwindow's user data; the sticky balancer's own never
// starts with it (it is a Kafka-encoded struct whose first bytes are a length).
var userDataMagic = []byte("\x00kwindow-url\x00")

func (b *advertising) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	inner := b.GroupBalancer.JoinGroupMetadata(interests, current, generation)
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(inner); err != nil {
		return inner // cannot happen: kgo encodes it
	}
	ud := append(bytes.Clone(userDataMagic), binary.AppendUvarint(nil, uint64(len(b.url)))...)
	ud = append(append(ud, b.url...), meta.UserData...)
	meta.UserData = ud
	return meta.AppendTo(nil)
}

func (b *advertising) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	stripped := make([]kmsg.JoinGroupResponseMember, len(members))
	for i, m := range members {
		stripped[i] = m
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			continue // the sticky balancer reports it
		}
		if _, rest, ok := splitUserData(meta.UserData); ok {
			meta.UserData = rest
			stripped[i].ProtocolMetadata = meta.AppendTo(nil)
		}
	}
	return b.GroupBalancer.MemberBalancer(stripped)
}

// MemberURL returns the query API URL a member advertised in its join metadata
// (kadm.DescribedGroupMember.Join), and false if it advertised none.
func MemberURL(meta *kmsg.ConsumerMemberMetadata) (string, bool) {
	if meta == nil {
		return "", false
	}
	url, _, ok := splitUserData(meta.UserData)
	return url, ok
}

func splitUserData(ud []byte) (url string, rest []byte, ok bool) {
	if !bytes.HasPrefix(ud, userDataMagic) {
		return "", ud, false
	}
	b := ud[len(userDataMagic):]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", ud, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true
}
