package nn

import (
	"math"
	"math/bits"
)

// rng is SplitMix64: a small, fast generator whose output sequence is fixed
// by this code (not by a library version), so initialisation and shuffling
// are reproducible across Go releases and platforms.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform value in [0, n) without modulo bias (Lemire's
// multiply-and-reject method).
func (r *rng) intn(n int) int {
	bound := uint64(n)
	for {
		hi, lo := bits.Mul64(r.next(), bound)
		if lo >= bound || lo >= -bound%bound {
			return int(hi)
		}
	}
}

// Permutation fills dst with a permutation of 0..len(dst)-1 determined only
// by seed (a Fisher–Yates shuffle driven by SplitMix64). The same seed and
// length always give the same order, on every platform and Go release.
func Permutation(dst []int, seed uint64) {
	for i := range dst {
		dst[i] = i
	}
	r := rng{s: seed}
	for i := len(dst) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		dst[i], dst[j] = dst[j], dst[i]
	}
}

// EpochSeed derives the shuffling seed of one epoch from a run's seed, so
// that every epoch has a different but reproducible order: pass it to
// TrainEpoch. Epochs are numbered from 0 or 1, as the caller likes.
func EpochSeed(runSeed uint64, epoch int) uint64 {
	r := rng{s: runSeed ^ 0x5bd1e9955bd1e995}
	r.s += uint64(epoch) * 0xd1342543de82ef95
	return r.next()
}

// uniform fills p with values drawn uniformly from [-bound, bound).
func (r *rng) uniform(p []float32, bound float64) {
	for i := range p {
		p[i] = float32((2*r.float64() - 1) * bound)
	}
}

// heBound is the He (Kaiming) uniform bound for a layer followed by ReLU.
func heBound(fanIn int) float64 { return math.Sqrt(6 / float64(fanIn)) }

// glorotBound is the Glorot (Xavier) uniform bound, used for the output layer.
func glorotBound(fanIn, fanOut int) float64 { return math.Sqrt(6 / float64(fanIn+fanOut)) }
