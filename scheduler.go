package autodrop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"unsafe"
)

// Float is the element type of the parameters a Scheduler observes.
type Float interface {
	~float32 | ~float64
}

// Errors wrapped by the errors of Observe, Sums and Apply.
var (
	// ErrEmpty: the parameters hold no values.
	ErrEmpty = errors.New("autodrop: empty parameters")
	// ErrLayout: the number or the lengths of the tensors changed.
	ErrLayout = errors.New("autodrop: parameter layout changed")
	// ErrNonFinite: a parameter is NaN or infinite.
	ErrNonFinite = errors.New("autodrop: non-finite parameter")
	// ErrSums: the sums given to Apply are not valid for this observation.
	ErrSums = errors.New("autodrop: invalid sums")
)

// errNotCreated is returned by a Scheduler that New or UnmarshalBinary did
// not initialise.
var errNotCreated = errors.New("autodrop: Scheduler not initialised: create it with New or UnmarshalBinary")

// InputError locates a non-finite parameter.
type InputError struct {
	Tensor int     // index of the tensor in the params slice
	Index  int     // index of the value in the tensor
	Value  float64 // the value (NaN or ±Inf)
}

func (e *InputError) Error() string {
	return fmt.Sprintf("autodrop: parameter tensor %d index %d is %v; observation rejected, state unchanged", e.Tensor, e.Index, e.Value)
}

// Unwrap makes errors.Is(err, ErrNonFinite) true.
func (e *InputError) Unwrap() error { return ErrNonFinite }

// Scheduler implements AutoDrop for parameters of element type T (float32 or
// float64). Create one with New, then call Observe once per epoch (or every
// N iterations) with the model's parameters and apply LR to the optimizer.
//
// A Scheduler keeps two copies of the parameters (the last two
// observations), plus one float64 buffer while a drop with tail averaging is
// pending. It is not safe for concurrent use.
type Scheduler[T Float] struct {
	cfg Config // defaults applied

	// Decision state.
	epoch   int       // observations accepted so far
	lr      float64   // current learning rate
	theta   float64   // current threshold
	armed   bool      // a drop is pending
	left    int       // observations before the pending drop fires
	angles  []float64 // ring of the last Window+1 angles
	nAngles int       // angles computed so far

	// Parameter state, allocated at the first observation.
	sizes []int  // tensor lengths
	off   []int  // off[i] is the flat offset of tensor i; off[len(sizes)] = total
	buf   [2][]T // the last two observations, flattened
	cur   int    // buf[cur] holds the newest observation
	tail  []float64

	// Scratch for one call; no allocation after the first observation.
	params   [][]T
	op       int // which pass runChunk performs
	plan     plan
	partials []partial
	batch    *batch
}

// partial holds one chunk's sums, padded to a cache line.
type partial struct {
	dot, ss, pp float64
	_           [5]float64
}

// plan says what the commit pass does with each parameter.
type plan struct {
	tailInit  bool    // tail = w*x
	tailAdd   bool    // tail += w*x
	writeBack bool    // x = T(tail + w*x)
	w         float64 // weight of this observation in the tail average
}

// Passes performed by runChunk.
const (
	opSums = iota
	opCommit
)

// New returns a Scheduler with the given configuration, or an error naming
// the first invalid field.
func New[T Float](cfg Config) (*Scheduler[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Scheduler[T]{cfg: cfg, lr: cfg.LR, theta: cfg.Theta}
	s.angles = make([]float64, cfg.Window+1)
	return s, nil
}

// Config returns the configuration, with defaults applied (Window >= 1,
// Epsilon > 0).
func (s *Scheduler[T]) Config() Config { return s.cfg }

// LR returns the current learning rate.
func (s *Scheduler[T]) LR() float64 { return s.lr }

// Theta returns the current threshold in degrees.
func (s *Scheduler[T]) Theta() float64 { return s.theta }

// Epoch returns the number of observations accepted so far.
func (s *Scheduler[T]) Epoch() int { return s.epoch }

// Armed reports whether a drop is pending, and after how many more
// observations it fires.
func (s *Scheduler[T]) Armed() (armed bool, left int) { return s.armed, s.left }

// Observe records the parameters at the end of an epoch and decides whether
// to drop the learning rate. params is the model's parameters as one slice
// per tensor; its layout must stay the same between calls. When a drop fires
// with tail averaging on, the weighted average of the parameters observed
// while the drop was pending is written into params.
//
// On error (empty or non-finite parameters, changed layout) the Scheduler is
// left exactly as it was and params are not modified.
func (s *Scheduler[T]) Observe(params [][]T) (Record, error) {
	sums, err := s.Sums(params)
	if err != nil {
		return Record{}, err
	}
	return s.Apply(params, sums)
}

// Sums is the part of an observation that adds across shards: the dot
// product of the last two steps and their squared norms, each scaled by a
// power of two. True values are Dot*2^(ExpS+ExpP), SS*2^(2*ExpS) and
// PP*2^(2*ExpP); the exponents are 0 unless float64 values near the limits of
// the type required rescaling.
type Sums struct {
	// Epoch is the observation the sums belong to (1-based). Sums of the
	// first two observations are zero: no angle exists yet.
	Epoch int
	// Dot is s_t . s_{t-1}; SS is |s_t|^2; PP is |s_{t-1}|^2.
	Dot, SS, PP float64
	// ExpS and ExpP are the binary exponents of the scales of s_t and s_{t-1}.
	ExpS, ExpP int
}

// Combine adds the sums of the shards of one observation. A sharded run
// calls Sums on every shard with the shard's parameters, combines the
// results (in a fixed order, for reproducible angles) and passes the total
// to Apply on every shard. Engines whose all-reduce only adds floats can
// all-reduce the maximum of ExpS and ExpP first and call Rescale on each
// shard's sums before adding.
func Combine(parts ...Sums) (Sums, error) {
	if len(parts) == 0 {
		return Sums{}, fmt.Errorf("%w: no sums to combine", ErrSums)
	}
	es, ep := parts[0].ExpS, parts[0].ExpP
	for i, p := range parts {
		if p.Epoch != parts[0].Epoch {
			return Sums{}, fmt.Errorf("%w: shard %d is at observation %d, shard 0 at %d", ErrSums, i, p.Epoch, parts[0].Epoch)
		}
		es, ep = max(es, p.ExpS), max(ep, p.ExpP)
	}
	t := Sums{Epoch: parts[0].Epoch, ExpS: es, ExpP: ep}
	for _, p := range parts {
		p = p.Rescale(es, ep)
		t.Dot += p.Dot
		t.SS += p.SS
		t.PP += p.PP
	}
	return t, nil
}

// Rescale returns the same sums expressed with exponents es and ep, which
// must not be smaller than u's.
func (u Sums) Rescale(es, ep int) Sums {
	if es == u.ExpS && ep == u.ExpP {
		return u
	}
	ds, dp := u.ExpS-es, u.ExpP-ep
	return Sums{
		Epoch: u.Epoch,
		Dot:   math.Ldexp(u.Dot, ds+dp),
		SS:    math.Ldexp(u.SS, 2*ds),
		PP:    math.Ldexp(u.PP, 2*dp),
		ExpS:  es,
		ExpP:  ep,
	}
}

// checkLayout verifies params against the layout fixed at the first
// observation, or, before it, that params hold at least one value.
func (s *Scheduler[T]) checkLayout(params [][]T) error {
	if s.angles == nil {
		return errNotCreated
	}
	if s.sizes == nil {
		n := 0
		for _, p := range params {
			n += len(p)
		}
		if n == 0 {
			return fmt.Errorf("%w: %d tensors with no values", ErrEmpty, len(params))
		}
		return nil
	}
	if len(params) != len(s.sizes) {
		return fmt.Errorf("%w: %d tensors, the first observation had %d", ErrLayout, len(params), len(s.sizes))
	}
	for i, p := range params {
		if len(p) != s.sizes[i] {
			return fmt.Errorf("%w: tensor %d has %d values, the first observation had %d", ErrLayout, i, len(p), s.sizes[i])
		}
	}
	return nil
}

// Sums computes this shard's sums for the next observation without changing
// the Scheduler: the first half of Observe. It validates params (layout,
// finiteness) and reads them once.
func (s *Scheduler[T]) Sums(params [][]T) (Sums, error) {
	if err := s.checkLayout(params); err != nil {
		return Sums{}, err
	}
	u := Sums{Epoch: s.epoch + 1}
	if s.epoch < 2 {
		if err := s.checkFinite(params); err != nil {
			return Sums{}, err
		}
		return u, nil
	}
	s.params, s.op = params, opSums
	s.batch.run(s, len(s.partials))
	s.params = nil
	for i := range s.partials {
		u.Dot += s.partials[i].dot
		u.SS += s.partials[i].ss
		u.PP += s.partials[i].pp
	}
	if !isFinite(u.Dot) || !isFinite(u.SS) || !isFinite(u.PP) {
		if err := s.locateNonFinite(params); err != nil {
			return Sums{}, err
		}
		return s.scaledSums(params), nil
	}
	// float32 steps can neither overflow nor underflow in float64; float64
	// steps below about 1e-90 may have underflowed in the squares.
	if s.elemSize() == 8 && (u.SS < 0x1p-600 || u.PP < 0x1p-600) {
		return s.scaledSums(params), nil
	}
	return u, nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (s *Scheduler[T]) elemSize() int { return int(unsafe.Sizeof(T(0))) }

// sizeofElem returns the size of the elements of v in bytes.
func sizeofElem[T Float](v []T) uintptr { return unsafe.Sizeof(T(0)) }

// checkFinite runs the finiteness pass over params (before buffers exist).
func (s *Scheduler[T]) checkFinite(params [][]T) error {
	c := 0.0
	for _, p := range params {
		c += finiteCheck(p)
	}
	if c != 0 {
		return s.locateNonFinite(params)
	}
	return nil
}

// locateNonFinite returns an InputError for the first non-finite value in
// params, or nil if there is none.
func (s *Scheduler[T]) locateNonFinite(params [][]T) error {
	for t, p := range params {
		for i, v := range p {
			if f := float64(v); !isFinite(f) {
				return &InputError{Tensor: t, Index: i, Value: f}
			}
		}
	}
	return nil
}

// scaledSums computes the sums serially with s and p rescaled to a maximum
// magnitude near 1. It is the slow path for float64 values whose squares
// overflow or underflow.
func (s *Scheduler[T]) scaledSums(params [][]T) Sums {
	a, b := s.buf[s.cur], s.buf[1-s.cur]
	ms, mp := 0.0, 0.0
	for t, p := range params {
		o := s.off[t]
		ms = max(ms, maxHalfDiff(p, a[o:o+len(p)]))
		mp = max(mp, maxHalfDiff(a[o:o+len(p)], b[o:o+len(p)]))
	}
	es, ep := exponentOf(ms), exponentOf(mp)
	u := Sums{Epoch: s.epoch + 1, ExpS: es + 1, ExpP: ep + 1}
	for t, p := range params {
		o := s.off[t]
		d, ss, pp := scaledSums3(p, a[o:o+len(p)], b[o:o+len(p)], es, ep)
		u.Dot += d
		u.SS += ss
		u.PP += pp
	}
	return u
}

// runChunk performs the current pass on chunk i of the flattened
// parameters.
func (s *Scheduler[T]) runChunk(i int) {
	size := chunkLen
	if s.op == opCommit {
		size = commitChunkLen
	}
	lo, hi := i*size, min((i+1)*size, s.off[len(s.sizes)])
	// Find the tensor holding lo.
	t := 0
	for s.off[t+1] <= lo {
		t++
	}
	var acc partial
	for pos := lo; pos < hi; t++ {
		o := s.off[t]
		end := min(hi, s.off[t+1])
		if end <= pos {
			continue
		}
		x := s.params[t][pos-o : end-o]
		switch s.op {
		case opSums:
			d, ss, pp := sums3(x, s.buf[s.cur][pos:end], s.buf[1-s.cur][pos:end])
			acc.dot += d
			acc.ss += ss
			acc.pp += pp
		case opCommit:
			s.commitSegment(x, pos, end)
		}
		pos = end
	}
	if s.op == opSums {
		s.partials[i] = acc
	}
}

// commitSegment stores x as the newest observation at flat positions
// [pos, end) and applies the tail-averaging plan.
func (s *Scheduler[T]) commitSegment(x []T, pos, end int) {
	dst := s.buf[1-s.cur][pos:end]
	copy(dst, x)
	pl := &s.plan
	switch {
	case pl.writeBack:
		tail := s.tail[pos:end]
		for i, v := range dst {
			x[i] = T(tail[i] + pl.w*float64(v))
		}
	case pl.tailInit:
		tail := s.tail[pos:end]
		for i, v := range dst {
			tail[i] = pl.w * float64(v)
		}
	case pl.tailAdd:
		tail := s.tail[pos:end]
		for i, v := range dst {
			tail[i] += pl.w * float64(v)
		}
	}
}

// Apply completes an observation with the sums of all shards (see Combine):
// it takes the decision, stores params as the newest observation, and, when
// a drop fires with tail averaging, writes the average into params. In an
// unsharded run, Observe calls Sums and Apply. params must be the same
// values that were passed to Sums.
//
// On error the Scheduler and params are unchanged.
func (s *Scheduler[T]) Apply(params [][]T, total Sums) (Record, error) {
	if err := s.checkLayout(params); err != nil {
		return Record{}, err
	}
	if total.Epoch != s.epoch+1 {
		return Record{}, fmt.Errorf("%w: sums are for observation %d, the scheduler is at observation %d", ErrSums, total.Epoch, s.epoch+1)
	}
	if s.epoch >= 2 && (!isFinite(total.Dot) || !isFinite(total.SS) || !isFinite(total.PP) || total.SS < 0 || total.PP < 0) {
		return Record{}, fmt.Errorf("%w: dot %v, squared norms %v and %v must be finite and the norms >= 0", ErrSums, total.Dot, total.SS, total.PP)
	}
	if s.sizes == nil {
		s.allocate(params)
	}

	rec, fire, armedNow := s.decide(total)

	// Plan the commit pass.
	s.plan = plan{}
	P := s.cfg.Patience
	if s.cfg.TailAverage && P > 0 && (s.armed || armedNow) {
		if s.tail == nil {
			s.tail = staggered[float64](len(s.buf[0]), 3)
		}
		k := P + 1 - rec.Left // this observation's weight index, 1..P+1
		if fire {
			k = P + 1
		}
		s.plan.w = float64(k) / (float64(P+1) * float64(P+2) / 2)
		switch {
		case fire:
			s.plan.writeBack = true
		case armedNow:
			s.plan.tailInit = true
		default:
			s.plan.tailAdd = true
		}
	}
	if s.epoch == 0 {
		// The first observation goes to buf[0] as the newest.
		s.cur = 1
	}
	s.params, s.op = params, opCommit
	s.batch.run(s, (len(s.buf[0])+commitChunkLen-1)/commitChunkLen)
	s.params = nil
	s.cur = 1 - s.cur
	s.plan = plan{}

	// Commit the decision.
	s.epoch = rec.Epoch
	s.lr, s.theta = rec.LR, rec.Theta
	s.armed, s.left = rec.Armed, rec.Left
	if rec.HasAngle {
		s.angles[s.nAngles%len(s.angles)] = rec.Angle
		s.nAngles++
	}
	rec.Averaged = fire && s.cfg.TailAverage
	s.report(rec)
	return rec, nil
}

// allocate fixes the layout at the first observation.
func (s *Scheduler[T]) allocate(params [][]T) {
	s.sizes = make([]int, len(params))
	s.off = make([]int, len(params)+1)
	for i, p := range params {
		s.sizes[i] = len(p)
		s.off[i+1] = s.off[i] + len(p)
	}
	n := s.off[len(params)]
	s.buf[0] = staggered[T](n, 1)
	s.buf[1] = staggered[T](n, 2)
	s.partials = make([]partial, (n+chunkLen-1)/chunkLen)
	s.batch = new(batch)
}

// decide computes the record of the next observation from the sums without
// changing the Scheduler. fire reports a drop; armedNow that this
// observation armed one.
func (s *Scheduler[T]) decide(total Sums) (rec Record, fire, armedNow bool) {
	rec = Record{Epoch: s.epoch + 1, LR: s.lr, Theta: s.theta, Armed: s.armed, Left: s.left}
	if s.epoch < 2 {
		return rec, false, false
	}
	rec.Angle, rec.HasAngle = angleOf(total, s.cfg.Epsilon), true
	W := s.cfg.Window
	if s.nAngles >= W {
		// The angle W observations ago.
		old := s.angles[(s.nAngles-W)%len(s.angles)]
		rec.Delta, rec.HasDelta = (rec.Angle-old)/float64(W), true
	}
	switch {
	case s.armed:
		rec.Left--
		fire = rec.Left == 0
	case rec.HasDelta && math.Abs(rec.Delta) < s.theta:
		armedNow = true
		rec.Armed, rec.Left = true, s.cfg.Patience
		fire = rec.Left == 0
	}
	if fire {
		rec.Dropped = true
		rec.Armed, rec.Left = false, 0
		rec.LR = max(s.cfg.MinLR, s.cfg.DropFactor*s.lr)
		if s.cfg.AutoTheta {
			rec.Theta = s.theta / s.cfg.DropFactor
			if s.cfg.MaxTheta > 0 {
				rec.Theta = min(s.cfg.MaxTheta, rec.Theta)
			}
		}
	}
	return rec, fire, armedNow
}

// angleOf returns the angle in degrees between the two steps whose sums are
// u: arccos(dot / (|s||p| + eps)), with eps rescaled along with the sums.
func angleOf(u Sums, eps float64) float64 {
	if u.Dot == 0 {
		return 90 // includes a zero step: 0 / (0 + eps)
	}
	den := math.Sqrt(u.SS)*math.Sqrt(u.PP) + math.Ldexp(eps, -(u.ExpS+u.ExpP))
	c := u.Dot / den
	c = max(-1, min(1, c))
	return math.Acos(c) * (180 / math.Pi)
}

// report hands rec to the callback and the logger.
func (s *Scheduler[T]) report(rec Record) {
	if s.cfg.OnRecord != nil {
		s.cfg.OnRecord(rec)
	}
	if l := s.cfg.Logger; l != nil {
		level := slog.LevelDebug
		if rec.Dropped {
			level = slog.LevelInfo
		}
		l.LogAttrs(context.Background(), level, "autodrop observation", slog.Any("record", rec))
	}
}

// memoryBytes returns the bytes held in parameter-sized buffers.
func (s *Scheduler[T]) memoryBytes() int {
	return (len(s.buf[0])+len(s.buf[1]))*s.elemSize() + 8*len(s.tail)
}

// staggerBytes separates the starts of the parameter-sized buffers. Large
// allocations tend to start at addresses equal modulo a large power of two
// (so do the caller's tensors); streams that alias this way conflict in the
// caches and memory banks, and the read pass ran at half speed on 64M
// parameters. Starting each buffer at a different odd multiple of a page
// plus a cache line avoids it.
const staggerBytes = 4096 + 64

// staggered returns a slice of n elements starting k*staggerBytes into a
// slightly larger allocation.
func staggered[E Float](n, k int) []E {
	off := k * staggerBytes / int(unsafe.Sizeof(E(0)))
	return make([]E, off+n)[off : off+n : off+n]
}
