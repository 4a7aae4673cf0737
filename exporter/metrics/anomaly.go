package metrics

import "math"

// ewma is an exponentially weighted moving mean and variance of one measure of one
// key (West's incremental form), and the z-score of the latest value against the
// history before it.
type ewma struct {
	n        int
	mean, vr float64
	score    float64
	hasScore bool
}

// observe scores x against the history, then adds it. The first warmup values
// are not scored. NaN values (an empty window's ratio) are skipped.
func (e *ewma) observe(x, alpha float64, warmup int) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if e.n >= warmup {
		e.hasScore = true
		switch sd := math.Sqrt(e.vr); {
		case sd > 0:
			e.score = (x - e.mean) / sd
		case x == e.mean:
			e.score = 0
		default:
			// A flat history broken: as anomalous as can be, with its sign.
			e.score = math.Copysign(math.MaxFloat64, x-e.mean)
		}
	}
	if e.n == 0 {
		e.mean = x
	} else {
		d := x - e.mean
		e.mean += alpha * d
		e.vr = (1 - alpha) * (e.vr + alpha*d*d)
	}
	e.n++
}
