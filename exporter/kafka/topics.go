package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors of topic administration.
var (
	// ErrNoTopic: a topic that must exist does not.
	ErrNoTopic = errors.New("topic does not exist")
	// ErrPartitionMismatch: an existing topic has another partition count than
	// required.
	ErrPartitionMismatch = errors.New("partition count mismatch")
)

// TopicSpec is a topic EnsureTopics creates or checks.
type TopicSpec struct {
	Name string
	// Partitions of a new topic; when > 0 an existing topic must have exactly as
	// many. 0 creates with the broker default and accepts any count.
	Partitions int32
	// Configs of a new topic (cleanup.policy=compact for a changelog). Existing
	// topics' configs are left alone.
	Configs map[string]*string
}

// EnsureTopics creates the topics of specs that do not exist, with
// replicationFactor replicas (-1: the broker default), and checks that those
// that exist have the partitions their spec asks for. Another client creating a
// topic at the same time is not an error; its partition count is still checked.
func EnsureTopics(ctx context.Context, adm *kadm.Client, replicationFactor int16, specs ...TopicSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	details, err := listTopics(ctx, adm, names...)
	if err != nil {
		return err
	}
	for _, s := range specs {
		d, ok := details[s.Name]
		switch {
		case ok && d.Err == nil:
			if err := checkPartitions(s, d); err != nil {
				return err
			}
			continue
		case ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			return fmt.Errorf("topic %q: %w", s.Name, d.Err)
		}
		if err := createTopic(ctx, adm, replicationFactor, s); err != nil {
			return err
		}
	}
	return nil
}

func createTopic(ctx context.Context, adm *kadm.Client, replicationFactor int16, s TopicSpec) error {
	partitions := s.Partitions
	if partitions <= 0 {
		partitions = -1
	}
	r, err := adm.CreateTopic(ctx, partitions, replicationFactor, s.Configs, s.Name)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		details, err := listTopics(ctx, adm, s.Name)
		if err != nil {
			return err
		}
		return checkPartitions(s, details[s.Name])
	case r.ErrMessage != "":
		return fmt.Errorf("creating topic %q: %w: %s", s.Name, err, r.ErrMessage)
	default:
		return fmt.Errorf("creating topic %q: %w", s.Name, err)
	}
}

func checkPartitions(s TopicSpec, d kadm.TopicDetail) error {
	if d.Err != nil {
		return fmt.Errorf("topic %q: %w", s.Name, d.Err)
	}
	if got := int32(len(d.Partitions)); s.Partitions > 0 && got != s.Partitions {
		return fmt.Errorf("%w: topic %q has %d partitions, want %d (delete it or give it %d partitions)",
			ErrPartitionMismatch, s.Name, got, s.Partitions, s.Partitions)
	}
	return nil
}

// PartitionCount returns the number of partitions of topic, the stream's input
// topic: an error wrapping ErrNoTopic says it does not exist.
func PartitionCount(ctx context.Context, adm *kadm.Client, topic string) (int32, error) {
	details, err := listTopics(ctx, adm, topic)
	if err != nil {
		return 0, err
	}
	d, ok := details[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return 0, &noTopicError{topic}
	case d.Err != nil:
		return 0, fmt.Errorf("input topic %q: %w", topic, d.Err)
	}
	return int32(len(d.Partitions)), nil
}

type noTopicError struct{ topic string }

func (e *noTopicError) Error() string        { return fmt.Sprintf("input topic %q does not exist", e.topic) }
func (e *noTopicError) Is(target error) bool { return target == ErrNoTopic }

// listTopics describes topics from a fresh metadata request. kadm answers
// ListTopics from the client's metadata cache, which can hold "unknown topic" for
// seconds after the topic was created; asking for authorized operations is how
// kadm bypasses that cache.
func listTopics(ctx context.Context, adm *kadm.Client, topics ...string) (kadm.TopicDetails, error) {
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), topics...)
	if err != nil {
		return nil, fmt.Errorf("describing topics %q: %w", topics, err)
	}
	return details, nil
}
