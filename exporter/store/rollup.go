package store

import (
	"strconv"
	"strings"
)

// RollupSep separates an aggregation's name from a rollup resolution in the
// name its rollup windows are stored under (see RollupAgg).
const RollupSep = '@'

// RollupAgg is the aggregation name under which the rollup windows of agg at
// resolution (ms) are kept: endpoint_1m@3600000 for hourly rollups of
// endpoint_1m. The key layout stays Key's: a rollup is only another name.
//
// Aggregation names are [a-zA-Z_][a-zA-Z0-9_]* (config refuses others), so an
// '@' never occurs in one and no rollup name is a user's aggregation name. Keys
// begin with the name and 0x00, so a rollup's keys form their own range, apart
// from the aggregation's (range scans, Groups and DeleteBefore of one never read
// the other), and they sort right after them ('@' > 0x00).
func RollupAgg(agg string, resolution int64) string {
	return agg + string(RollupSep) + strconv.FormatInt(resolution, 10)
}

// ParseRollupAgg splits a name made by RollupAgg; ok is false for any other
// name, such as an aggregation's own.
func ParseRollupAgg(name string) (agg string, resolution int64, ok bool) {
	agg, res, found := strings.Cut(name, string(RollupSep))
	if !found || agg == "" {
		return "", 0, false
	}
	r, err := strconv.ParseInt(res, 10, 64)
	if err != nil || r <= 0 || strconv.FormatInt(r, 10) != res {
		return "", 0, false
	}
	return agg, r, true
}
