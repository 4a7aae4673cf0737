// Package combine is stage 1 of kwindow's two-stage topology: map-side combining.
//
// A Combiner runs per input partition. It decodes nothing and closes nothing: it
// sums the events of one commit interval into partial aggregates (parts) per
// (aggregation, group key), decides which events are late, and at the commit hands
// the parts out as Deltas. The runtime ships them through the repartition topic,
// keyed by (aggregation, group key) so that one stage-2 task owns each key
// (Partition), followed by the combiner's stream time as a watermark record to
// every repartition partition, deltas first, watermark last, in one transaction.
// Stage 2 (engine.Engine.Merge) merges the parts into its windows, and its stream
// time is the minimum of the latest watermark of every source: it closes a window
// only once every input partition has passed its close time.
//
// # Parts
//
// A part is the aggregate of some events of a key and where they go:
//   - tumbling: the window of the events.
//   - hopping: a pane, a slice of gcd(size, advance) milliseconds aligned like the
//     windows (window.Spec.Pane). Every window that holds a time holds its whole
//     pane, so the pane goes to each window containing it that starts at or after
//     From: an event costs one update at stage 1, whatever size/advance. Stage 2
//     keeps the panes and assembles each window when it closes (engine.Options.Panes).
//     From is the start of the earliest window of the event still open at stage 1
//     (events of one pane with different From stay in different parts).
//   - session: a local session, events of the interval within the gap of each
//     other, [first, last+1). Stage 2 merges it with every open session within the
//     gap (window.Windows.MergeSession), as it would merge its events one by one.
//   - sliding: the events of one millisecond, [t, t+1). Stage 2 adds it as one
//     event at t (window.Windows.Add), which gives the windows the events would
//     give one by one: sliding windows are cut at distinct event times, so events
//     of the same millisecond always share every window. Sliding windows combine
//     only events with the same millisecond.
//   - late: the events late at stage 1, for the running total only.
//
// The parts of a key, its late part included, hold exactly its events of the
// interval: every event, late or not, reaches the key's running total.
//
// # Value statistics
//
// An aggregation that needs no value statistics (config.Aggregation.NeedsValue:
// no sum, min or max measure and no quantiles, such as the default status_5m with
// measures [count]) gets parts without them: Flush clears Values, Sum, Min and Max
// (to 0, 0, +Inf, -Inf, an aggregate without values), and the codec writes none of
// them. Nothing reads them for such an aggregation: the output record
// (stream's appendResult) writes sum, min and max only for their measures, and
// /metrics reads Values only to gate quantiles. So its stage-2 windows and totals,
// changelog and state store included, hold no value statistics (the single engine,
// engine.Process, still keeps them). Adding sum, min or max to such an aggregation
// later gives them over the events since, as adding quantiles gives sketches only
// from then on. The combiner still adds the values (Aggregate.Add) and clears them
// once per part at Flush: cheaper than a second kind of aggregate.
//
// # Encoding
//
// A part's encoding (codec.go) is small because stage 1 ships many small parts,
// and the repartition topic is the two-stage topology's largest cost: its times
// are relative to its Start, what is zero or absent is left out (flag bits), an
// aggregate's value statistics come from its sketch when they agree with it (they
// do unless a value was infinite), and a sketch lists its non-empty buckets by
// their gaps. Deltas are not kept beyond the repartition topic's retention, so a
// new encoding version replaces the old one (see codec.go).
//
// # Lateness
//
// Lateness is decided here, against the combiner's own stream time s (the largest
// event time it processed, or what AdvanceTo set), when the event is processed:
//   - tumbling and hopping: late if any window of t is closed at s, or does not fit
//     the int64 range (as Windows.Add decides). The event still goes to its open
//     windows (From); with none open, only to the late part.
//   - session: late if t + grace <= s (saturating; t = math.MaxInt64 is late).
//   - sliding: late if t + grace <= s (saturating), that is once the event's left
//     window [t-size, t] is closed, or if t is outside the range Windows.Add accepts
//     for sliding windows. A late sliding event reaches no window.
//
// The sliding rule is stricter than Kafka Streams', which window.Windows.Add (the
// single engine) keeps: late only once the right window [t+1, t+size+1] is closed.
// Under that rule an event between grace and size+grace behind stream time goes to
// its windows still open, and which those are depends on arrival order even in one
// engine, because a new sliding window is copied from its neighbours: with size 10,
// grace 5 and stream time 15, events at 10, 15, 8, 14 give [4,14] = {10, 14}, at
// 10, 15, 14, 8 give {8, 10, 14}. Stage 2 merges the parts of different sources in
// any order, so for such events no result independent of the partitioning exists.
// Under the stricter rule, as under the session rule, a window holds exactly the
// events of its key and range not late at their own input partition, whatever the
// order. A single engine (engine.Engine.Process) and the two stages can therefore
// disagree on such events.
//
// Stage 2 never receives a part for a window it has already closed. Let m be stage
// 2's stream time when it merges a part of source P, and s the stream time P had
// when it processed any event e of the part. The runtime applies a source's
// records in order and moves m only with watermarks: m is at most the last
// watermark P shipped before this part, which is P's stream time at the end of an
// earlier interval, so m <= s (stream time never goes back). Then:
//   - tumbling and hopping: the windows the part goes to (start >= From) were open
//     at s, so at m <= s too.
//   - sliding: every event of the part has t + grace > s >= m, and every window
//     holding t ends at t or later, so it closes after m: Windows.Add adds the part
//     to all of them. Likewise a window new ones are copied from was open when each
//     of its events was merged, so it holds them all.
//   - session: every event of the part has t + grace > s >= m. A stored session S
//     closed at m has m >= S.last + gap + grace, so every event of the part is
//     after S.last + gap: the part is not within the gap of S, and does not join it.
//
// So a window's result is final when stage 2 closes it, engine.Stats.LateMerges
// stays 0 (unless a source's watermark goes backwards), and a window holds exactly
// the events of its key and range that were not late for it at their input
// partition, whatever the order stage 2 merges parts in: tests check this against a
// brute-force model, over several partitionings.
package combine
