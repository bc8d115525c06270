package autodrop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzObserve feeds arbitrary float64 values as a sequence of observations
// of a few small tensors. It must never panic; every accepted observation
// gives a finite angle in [0, 180] and a finite positive lr, and a rejected
// one leaves the state unchanged.
func FuzzObserve(f *testing.F) {
	f.Add([]byte{}, uint8(3), false)
	seed := make([]byte, 0, 8*12)
	for _, v := range []float64{0, 1, 2, 3, 1, 0, 5, -1, math.MaxFloat64, -math.MaxFloat64, 5e-324, math.NaN()} {
		seed = binary.LittleEndian.AppendUint64(seed, math.Float64bits(v))
	}
	f.Add(seed, uint8(2), true)
	f.Add(seed, uint8(5), false)
	f.Fuzz(func(t *testing.T, data []byte, dim uint8, as32 bool) {
		d := int(dim%7) + 1
		vals := make([]float64, len(data)/8)
		for i := range vals {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
		cfg := Config{LR: 1, DropFactor: 0.5, Theta: 30, MinLR: 0.01, Patience: 1, TailAverage: true, AutoTheta: true, MaxTheta: 90}
		if as32 {
			fuzzRun[float32](t, cfg, vals, d)
		} else {
			fuzzRun[float64](t, cfg, vals, d)
		}
	})
}

func fuzzRun[T Float](t *testing.T, cfg Config, vals []float64, d int) {
	s, err := New[T](cfg)
	if err != nil {
		t.Fatal(err)
	}
	for len(vals) >= d {
		x := make([]T, d)
		for i := range x {
			x[i] = T(vals[i])
		}
		vals = vals[d:]
		params := [][]T{x[:d/2], x[d/2:]}
		before, _ := s.MarshalBinary()
		rec, err := s.Observe(params)
		if err != nil {
			if !errors.Is(err, ErrNonFinite) {
				t.Fatalf("unexpected error %v", err)
			}
			after, _ := s.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatal("rejected observation changed the state")
			}
			continue
		}
		if rec.HasAngle && !(rec.Angle >= 0 && rec.Angle <= 180) {
			t.Fatalf("angle %v for finite input", rec.Angle)
		}
		if !(rec.LR > 0) || math.IsInf(rec.LR, 0) || !isFinite(rec.Theta) {
			t.Fatalf("lr %v theta %v", rec.LR, rec.Theta)
		}
	}
}

// FuzzUnmarshalBinary checks that arbitrary bytes never panic, and that an
// accepted state marshals back to the same bytes.
func FuzzUnmarshalBinary(f *testing.F) {
	s, _ := New[float32](firingConfig())
	traj := [][]float32{{0, 0, 0}, {1, 0.5, 0}, {1.5, 1.2, 0.1}, {2, 1.3, 0.3}, {2.2, 1.5, 0.6}}
	for _, x := range traj {
		b, _ := s.MarshalBinary()
		f.Add(b)
		s.Observe([][]float32{append([]float32(nil), x...)})
	}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte("ADRP"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Scheduler[float32]
		if err := r.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		out, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, data) {
			t.Fatal("accepted state does not round-trip")
		}
		// A restored scheduler must accept a matching observation.
		if r.sizes != nil {
			params := make([][]float32, len(r.sizes))
			for i, n := range r.sizes {
				params[i] = make([]float32, n)
			}
			if _, err := r.Observe(params); err != nil {
				t.Fatalf("restored scheduler rejects an observation: %v", err)
			}
		}
	})
}
