package autodrop

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// firingConfig arms and fires several times on the MNIST trajectory, with
// tail averaging and theta adaptation.
func firingConfig() Config {
	return Config{LR: 0.05, DropFactor: 0.2, Theta: 0.5, MaxTheta: 1, MinLR: 1e-4,
		Patience: 4, AutoTheta: true, TailAverage: true}
}

func mustNew[T Float](t testing.TB, cfg Config) *Scheduler[T] {
	t.Helper()
	s, err := New[T](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func state[T Float](t testing.TB, s *Scheduler[T]) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// observeRow feeds one trajectory row (copied, so write-backs do not alter
// the trajectory) and returns the record and the parameters after the call.
func observeRow(t testing.TB, s *Scheduler[float32], row []float32) (Record, []float32) {
	t.Helper()
	flat := append([]float32(nil), row...)
	rec, err := s.Observe(split(flat, mnistLayout))
	if err != nil {
		t.Fatal(err)
	}
	return rec, flat
}

func TestConfigValidation(t *testing.T) {
	base := Config{LR: 0.1, DropFactor: 0.5, Theta: 0.5, MaxTheta: 1}
	cases := []struct {
		field string
		mod   func(*Config)
	}{
		{"LR", func(c *Config) { c.LR = 0 }},
		{"LR", func(c *Config) { c.LR = math.NaN() }},
		{"DropFactor", func(c *Config) { c.DropFactor = 1 }},
		{"DropFactor", func(c *Config) { c.DropFactor = 0 }},
		{"Theta", func(c *Config) { c.Theta = -1 }},
		{"Theta", func(c *Config) { c.AutoTheta = true; c.Theta = 2 }},
		{"MaxTheta", func(c *Config) { c.MaxTheta = math.Inf(1) }},
		{"MinLR", func(c *Config) { c.MinLR = -1 }},
		{"LR", func(c *Config) { c.MinLR = 0.2 }},
		{"Patience", func(c *Config) { c.Patience = -1 }},
		{"Window", func(c *Config) { c.Window = -1 }},
		{"Epsilon", func(c *Config) { c.Epsilon = -1e-8 }},
	}
	for _, c := range cases {
		cfg := base
		c.mod(&cfg)
		_, err := New[float32](cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) || ce.Field != c.field {
			t.Errorf("%+v: error %v, want a ConfigError on %s", cfg, err, c.field)
		}
	}
	// Theta above MaxTheta is fine without adaptation.
	cfg := base
	cfg.Theta = 2
	if _, err := New[float32](cfg); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"cifar", "imagenet"} {
		p, err := Preset(name)
		if err != nil || p.Validate() != nil {
			t.Errorf("preset %s: %v %v", name, err, p.Validate())
		}
	}
	if _, err := Preset("mnist"); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown preset: %v", err)
	}
	if c := CIFAR(); c.DropFactor != 0.2 || c.Theta != 0.01 || c.MaxTheta != 1 || c.MinLR != 1e-4 || c.Patience != 19 || !c.TailAverage || !c.AutoTheta || c.Window != 1 {
		t.Errorf("CIFAR preset %+v", c)
	}
	if c := ImageNet(); c.DropFactor != 0.1 {
		t.Errorf("ImageNet preset %+v", c)
	}
}

// TestRejectsBadInput checks that bad input returns an error naming the
// place and leaves the serialized state and the parameters unchanged, at
// every stage of a run including a pending drop with tail averaging.
func TestRejectsBadInput(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	s := mustNew[float32](t, firingConfig())
	bad := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for e, row := range traj[:20] {
		before := state(t, s)
		// Non-finite values in every tensor.
		for ti, tensor := range mnistLayout {
			flat := append([]float32(nil), row...)
			params := split(flat, mnistLayout)
			idx := (e * 7919) % tensor
			params[ti][idx] = bad[(e+ti)%3]
			want := append([]float32(nil), flat...)
			_, err := s.Observe(params)
			var ie *InputError
			if !errors.As(err, &ie) || !errors.Is(err, ErrNonFinite) || ie.Tensor != ti || ie.Index != idx {
				t.Fatalf("epoch %d tensor %d index %d: error %v", e+1, ti, idx, err)
			}
			if !bytes.Equal(state(t, s), before) {
				t.Fatalf("epoch %d: state changed by a rejected observation", e+1)
			}
			for i := range flat {
				if math.Float32bits(flat[i]) != math.Float32bits(want[i]) {
					t.Fatalf("epoch %d: params changed by a rejected observation", e+1)
				}
			}
		}
		// Layout changes (after the first observation fixes it) and empty input.
		flat := append([]float32(nil), row...)
		params := split(flat, mnistLayout)
		var layouts [][][]float32
		if e > 0 {
			layouts = append(layouts, params[:3], append(params, []float32{1}), [][]float32{params[0], params[1][:31], params[2], params[3]})
		}
		for _, p := range layouts {
			if _, err := s.Observe(p); !errors.Is(err, ErrLayout) {
				t.Fatalf("epoch %d: layout change gave %v", e+1, err)
			}
		}
		for _, p := range [][][]float32{nil, {}, {{}, {}}} {
			if _, err := s.Observe(p); err == nil {
				t.Fatalf("epoch %d: empty input accepted", e+1)
			} else if e == 0 && !errors.Is(err, ErrEmpty) {
				t.Fatalf("epoch %d: empty input gave %v", e+1, err)
			}
		}
		if !bytes.Equal(state(t, s), before) {
			t.Fatalf("epoch %d: state changed by a rejected observation", e+1)
		}
		observeRow(t, s, row)
	}
}

// TestResume saves after every observation, restores into a fresh
// Scheduler and checks that every later record and parameter write-back is
// bit-identical to the uninterrupted run.
func TestResume(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	ref := mustNew[float32](t, firingConfig())
	var recs []Record
	var outs [][]float32
	pendingSeen := false
	for _, row := range traj {
		rec, out := observeRow(t, ref, row)
		recs = append(recs, rec)
		outs = append(outs, out)
		pendingSeen = pendingSeen || (rec.Armed && rec.Left < firingConfig().Patience)
	}
	if !pendingSeen {
		t.Fatal("the run never reaches the middle of a countdown; the test would prove nothing")
	}
	for k := 0; k <= len(traj); k++ {
		s := mustNew[float32](t, firingConfig())
		for _, row := range traj[:k] {
			observeRow(t, s, row)
		}
		blob := state(t, s)
		var r Scheduler[float32]
		if err := r.UnmarshalBinary(blob); err != nil {
			t.Fatalf("restore after %d: %v", k, err)
		}
		if !bytes.Equal(state(t, &r), blob) {
			t.Fatalf("restore after %d: state does not round-trip", k)
		}
		for e := k; e < len(traj); e++ {
			rec, out := observeRow(t, &r, traj[e])
			if rec != recs[e] {
				t.Fatalf("restored after %d, epoch %d: %v, want %v", k, e+1, rec, recs[e])
			}
			for i := range out {
				if math.Float32bits(out[i]) != math.Float32bits(outs[e][i]) {
					t.Fatalf("restored after %d, epoch %d: parameter %d differs", k, e+1, i)
				}
			}
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	s := mustNew[float32](t, firingConfig())
	for _, row := range traj[:9] { // pending drop with a tail sum
		observeRow(t, s, row)
	}
	if armed, _ := s.Armed(); !armed {
		t.Fatal("expected a pending drop after 9 observations")
	}
	blob := state(t, s)
	var fresh Scheduler[float32]
	check := func(name string, data []byte) {
		t.Helper()
		err := fresh.UnmarshalBinary(data)
		if !errors.Is(err, ErrState) {
			t.Errorf("%s: error %v, want ErrState", name, err)
		}
	}
	check("empty", nil)
	for _, n := range []int{3, 10, 100, len(blob) / 2, len(blob) - 1} {
		check("truncated", blob[:n])
	}
	for _, i := range []int{8, 50, 200, len(blob) / 2, len(blob) - 5} {
		c := append([]byte(nil), blob...)
		c[i] ^= 0x10
		check("corrupted", c)
	}
	v := append([]byte(nil), blob...)
	v[4] = 2
	check("version", v)
	var d Scheduler[float64]
	if err := d.UnmarshalBinary(blob); !errors.Is(err, ErrState) {
		t.Errorf("float64 scheduler accepted a float32 state: %v", err)
	}
	if fresh.angles != nil {
		t.Error("a rejected state modified the receiver")
	}
}

// TestSharded runs K shards in goroutines, each holding a slice of the
// parameters (one tensor split across shards), and checks that the decisions
// and write-backs equal the unsharded run.
func TestSharded(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	for _, K := range []int{2, 3, 5} {
		shards := make([]*Scheduler[float32], K)
		for k := range shards {
			shards[k] = mustNew[float32](t, firingConfig())
		}
		ref := mustNew[float32](t, firingConfig())
		drops := 0
		for e, row := range traj {
			want, wantOut := observeRow(t, ref, row)
			flat := append([]float32(nil), row...)
			// Shard k holds a contiguous range of the flattened parameters,
			// as several tensors.
			bounds := make([]int, K+1)
			for k := range bounds {
				bounds[k] = len(flat) * k / K
			}
			parts := make([]Sums, K)
			recs := make([]Record, K)
			errs := make([]error, K)
			shardParams := func(k int) [][]float32 {
				lo, hi := bounds[k], bounds[k+1]
				mid := (lo + hi) / 2
				return [][]float32{flat[lo:mid], flat[mid:hi]}
			}
			var wg sync.WaitGroup
			for k := range K {
				wg.Go(func() { parts[k], errs[k] = shards[k].Sums(shardParams(k)) })
			}
			wg.Wait()
			total, err := Combine(parts...)
			if err != nil || errors.Join(errs...) != nil {
				t.Fatal(err, errs)
			}
			for k := range K {
				wg.Go(func() { recs[k], errs[k] = shards[k].Apply(shardParams(k), total) })
			}
			wg.Wait()
			for k, rec := range recs {
				if errs[k] != nil {
					t.Fatal(errs[k])
				}
				got := rec
				if math.Abs(got.Angle-want.Angle) > 1e-9 || math.Abs(got.Delta-want.Delta) > 2e-9 {
					t.Fatalf("K=%d epoch %d shard %d: angle %v delta %v, want %v %v", K, e+1, k, got.Angle, got.Delta, want.Angle, want.Delta)
				}
				got.Angle, got.Delta = want.Angle, want.Delta
				if got != want {
					t.Fatalf("K=%d epoch %d shard %d: %v, want %v", K, e+1, k, rec, want)
				}
			}
			if want.Dropped {
				drops++
			}
			for i := range flat {
				if math.Float32bits(flat[i]) != math.Float32bits(wantOut[i]) {
					t.Fatalf("K=%d epoch %d: parameter %d differs from the unsharded write-back", K, e+1, i)
				}
			}
		}
		if drops == 0 {
			t.Fatal("no drop fired; the test would prove nothing")
		}
	}
	if _, err := Combine(Sums{Epoch: 3}, Sums{Epoch: 4}); !errors.Is(err, ErrSums) {
		t.Errorf("combining sums of different observations: %v", err)
	}
}

// randomWalk returns n observations of a d-dimensional random walk with a
// drift, split into tensors of the given sizes.
func randomWalk(seed uint64, n int, sizes []int) [][][]float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	d := 0
	for _, s := range sizes {
		d += s
	}
	x := make([]float32, d)
	out := make([][][]float32, n)
	for e := range out {
		for i := range x {
			x[i] += float32(r.NormFloat64()*0.01 + 0.001)
		}
		out[e] = split(append([]float32(nil), x...), sizes)
	}
	return out
}

// TestDeterministicAcrossGOMAXPROCS checks bit-identical records for a
// multi-chunk model whatever the number of goroutines.
func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	sizes := []int{3*chunkLen + 17, 1000, chunkLen - 3}
	walk := randomWalk(7, 12, sizes)
	cfg := Config{LR: 0.1, DropFactor: 0.5, Theta: 5, Patience: 2, TailAverage: true}
	run := func(procs int) []Record {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		s := mustNew[float32](t, cfg)
		var recs []Record
		for _, obs := range walk {
			p := make([][]float32, len(obs))
			for i := range obs {
				p[i] = append([]float32(nil), obs[i]...)
			}
			rec, err := s.Observe(p)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
		return recs
	}
	want := run(1)
	for _, procs := range []int{2, 3, 8} {
		got := run(procs)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("GOMAXPROCS=%d epoch %d: %v, want %v", procs, i+1, got[i], want[i])
			}
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	sizes := []int{2*chunkLen + 5, 300}
	walk := randomWalk(3, 30, sizes)
	cfg := Config{LR: 0.1, DropFactor: 0.5, Theta: 50, Patience: 3, TailAverage: true, AutoTheta: false}
	s := mustNew[float32](t, cfg)
	params := [][]float32{make([]float32, sizes[0]), make([]float32, sizes[1])}
	i := 0
	observe := func() {
		copy(params[0], walk[i%len(walk)][0])
		copy(params[1], walk[i%len(walk)][1])
		i++
		if _, err := s.Observe(params); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // past the first arming, which allocates the tail buffer
		observe()
	}
	if allocs := testing.AllocsPerRun(50, observe); allocs != 0 {
		t.Errorf("Observe allocates %v times per call", allocs)
	}
}

// angle3 returns the angle of observing x0, x0+s1, x0+s1+s2 (float64).
func angle3(t *testing.T, eps float64, s1, s2 []float64) float64 {
	t.Helper()
	s := mustNew[float64](t, Config{LR: 0.1, DropFactor: 0.5, Epsilon: eps})
	x := make([]float64, len(s1))
	var rec Record
	for _, step := range [][]float64{nil, s1, s2} {
		for i := range step {
			x[i] += step[i]
		}
		var err error
		if rec, err = s.Observe([][]float64{append([]float64(nil), x...)}); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Angle
}

func TestAngleProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const tiny = 1e-300 // epsilon negligible: the pure angle
	for range 50 {
		n := 1 + r.IntN(40)
		s1, s2 := make([]float64, n), make([]float64, n)
		for i := range s1 {
			s1[i], s2[i] = r.NormFloat64(), r.NormFloat64()
		}
		a := angle3(t, tiny, s1, s2)
		if a < 0 || a > 180 {
			t.Fatalf("angle %v out of range", a)
		}
		// Symmetric.
		if b := angle3(t, tiny, s2, s1); math.Abs(a-b) > 1e-9 {
			t.Errorf("angle(s1,s2) = %v, angle(s2,s1) = %v", a, b)
		}
		// Invariant to scaling either step by a positive factor.
		// Factors in [0.01, 100]: wider ratios would make the test itself lose
		// the smaller step to rounding when it forms the positions.
		k1, k2 := math.Pow(10, 4*r.Float64()-2), math.Pow(10, 4*r.Float64()-2)
		t1, t2 := make([]float64, n), make([]float64, n)
		for i := range s1 {
			t1[i], t2[i] = s1[i]*k1, s2[i]*k2
		}
		if b := angle3(t, tiny, t1, t2); math.Abs(a-b) > 1e-9 {
			t.Errorf("scaling by %v and %v changed the angle from %v to %v", k1, k2, a, b)
		}
	}
	if a := angle3(t, tiny, []float64{1, 2, 3}, []float64{2, 4, 6}); a > 1e-6 {
		t.Errorf("parallel steps: %v degrees", a)
	}
	if a := angle3(t, tiny, []float64{1, 2, 0}, []float64{-2, 1, 5}); a != 90 {
		t.Errorf("orthogonal steps: %v degrees", a)
	}
	if a := angle3(t, tiny, []float64{1, 2, 3}, []float64{-3, -6, -9}); a < 180-1e-6 {
		t.Errorf("opposite steps: %v degrees", a)
	}
	if a := angle3(t, DefaultEpsilon, []float64{0, 0}, []float64{1, 1}); a != 90 {
		t.Errorf("zero step: %v degrees, want exactly 90", a)
	}
}

// TestExtremeMagnitudes checks that finite values near the limits of each
// type give a finite angle equal to the one of the same trajectory at unit
// scale (the epsilon term being negligible at both scales).
func TestExtremeMagnitudes(t *testing.T) {
	base := [][]float64{{0, 0, 0}, {1, -0.5, 0.25}, {1.5, 0.5, -0.75}, {0.5, 1.25, -0.5}, {-1, 0.75, 1}}
	ref := func() []float64 {
		s := mustNew[float64](t, Config{LR: 0.1, DropFactor: 0.5, Epsilon: 1e-300})
		var out []float64
		for _, x := range base {
			rec, err := s.Observe([][]float64{append([]float64(nil), x...)})
			if err != nil {
				t.Fatal(err)
			}
			if rec.HasAngle {
				out = append(out, rec.Angle)
			}
		}
		return out
	}()
	check := func(name string, got []float64) {
		t.Helper()
		for i := range ref {
			if !isFinite(got[i]) || math.Abs(got[i]-ref[i]) > 1e-6 {
				t.Errorf("%s: angle %d = %v, want %v", name, i, got[i], ref[i])
			}
		}
	}
	// float64 near its maximum: steps of 2^1021 overflow x-a and the squares.
	for _, scale := range []float64{0x1p1021, 0x1p600, 0x1p-1000, 0x1p-1070 * 64} {
		s := mustNew[float64](t, Config{LR: 0.1, DropFactor: 0.5, Epsilon: 1e-300})
		var got []float64
		for _, x := range base {
			p := make([]float64, len(x))
			for i := range x {
				p[i] = x[i] * scale
			}
			rec, err := s.Observe([][]float64{p})
			if err != nil {
				t.Fatal(err)
			}
			if rec.HasAngle {
				got = append(got, rec.Angle)
			}
		}
		if scale < 1e-300 {
			// Subnormal steps lose precision: only finiteness and range.
			for _, a := range got {
				if !isFinite(a) || a < 0 || a > 180 {
					t.Errorf("scale %g: angle %v", scale, a)
				}
			}
			continue
		}
		check("float64 scale "+formatScale(scale), got)
	}
	// float32 near its maximum and minimum (products are exact in float64).
	for _, scale := range []float64{0x1p126, 0x1p-120} {
		s := mustNew[float32](t, Config{LR: 0.1, DropFactor: 0.5, Epsilon: 1e-300})
		var got []float64
		for _, x := range base {
			p := make([]float32, len(x))
			for i := range x {
				p[i] = float32(x[i] * scale)
			}
			rec, err := s.Observe([][]float32{p})
			if err != nil {
				t.Fatal(err)
			}
			if rec.HasAngle {
				got = append(got, rec.Angle)
			}
		}
		check("float32 scale "+formatScale(scale), got)
	}
}

func formatScale(v float64) string {
	_, e := math.Frexp(v)
	return "2^" + itoa(e-1)
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestWindow(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	const W = 3
	s1 := mustNew[float32](t, Config{LR: 0.05, DropFactor: 0.5})
	sw := mustNew[float32](t, Config{LR: 0.05, DropFactor: 0.5, Window: W})
	var angles []float64
	for e, row := range traj {
		r1, _ := observeRow(t, s1, row)
		rw, _ := observeRow(t, sw, row)
		if r1.HasAngle {
			angles = append(angles, r1.Angle)
		}
		if rw.HasDelta != (e+1 >= W+3) {
			t.Fatalf("epoch %d: HasDelta %v with window %d", e+1, rw.HasDelta, W)
		}
		if rw.HasDelta {
			n := len(angles)
			want := (angles[n-1] - angles[n-1-W]) / W
			if math.Abs(rw.Delta-want) > 1e-12 {
				t.Fatalf("epoch %d: windowed delta %v, want %v", e+1, rw.Delta, want)
			}
		}
	}
}

func TestZeroSchedulerErrors(t *testing.T) {
	var s Scheduler[float32]
	if _, err := s.Observe([][]float32{{1}}); err == nil {
		t.Error("a zero Scheduler accepted an observation")
	}
	if _, err := s.MarshalBinary(); err == nil {
		t.Error("a zero Scheduler marshalled")
	}
}
