package metrics

import "math"

// clampSD bounds, in standard deviations, how far a value moves the history.
const clampSD = 3

// ewma is an exponentially weighted moving mean and variance of one measure of one
// key (West's incremental form), and the z-score of the latest value against the
// history before it.
//
// Once warm, a value enters the history clamped to mean ± 3 standard deviations.
// Without that, one outlier inflates the variance so much that a lasting step
// scores above 4 for a single window and about 3 after, whatever its size, and an
// alert with a "for" duration never fires; clamped, a 1.5x step stays above 4 for
// three windows and a 10x step for fourteen, while noise scores the same.
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
	if e.n >= warmup {
		sd := math.Sqrt(e.vr)
		x = math.Max(e.mean-clampSD*sd, math.Min(e.mean+clampSD*sd, x))
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

// clampScore keeps the score of a broken flat history finite but extreme.
func clampScore(x float64) float64 { return math.Max(-1e6, math.Min(1e6, x)) }
