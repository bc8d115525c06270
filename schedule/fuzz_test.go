package schedule

import (
	"bytes"
	"testing"
)

// FuzzUnmarshalBinary feeds corrupted states to every schedule of the
// resume cases: UnmarshalBinary must not panic, and must either accept the
// input or leave the schedule unchanged.
func FuzzUnmarshalBinary(f *testing.F) {
	cases := resumeCases(&testing.T{})
	for i, c := range cases {
		s, before := c.build(&testing.T{})
		for j := 1; j <= c.steps/2; j++ {
			before(j)
			if c.metrics != nil {
				_ = s.Step(c.metrics[j-1])
			} else {
				_ = s.Step()
			}
		}
		b, _ := s.MarshalBinary()
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c := cases[int(which)%len(cases)]
		s, _ := c.build(t)
		s0, _ := s.MarshalBinary()
		if err := s.UnmarshalBinary(data); err != nil {
			if s1, _ := s.MarshalBinary(); !bytes.Equal(s0, s1) {
				t.Fatalf("rejected state changed the schedule: %v", err)
			}
			return
		}
		// An accepted state round-trips.
		s1, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := c.build(t)
		if err := s2.UnmarshalBinary(s1); err != nil {
			t.Fatalf("re-marshaled state rejected: %v", err)
		}
		_ = s.LRs()
	})
}

// FuzzParse checks that Parse never panics and that whatever it accepts can
// step and save its state.
func FuzzParse(f *testing.F) {
	for _, spec := range traceSpecs {
		f.Add([]byte(spec))
	}
	f.Add([]byte(`{"type":"cosine_warm_restarts","t_0":1,"t_mult":9223372036854775807}`))
	f.Add([]byte(`{"type":"onecycle","total_steps":3,"three_phase":true,"pct_start":0.9}`))
	m := newModel()
	f.Fuzz(func(t *testing.T, spec []byte) {
		s, err := Parse(spec, []float64{0.1, 0.01}, ParseOptions{Params: m.params})
		if err != nil {
			return
		}
		for i := 1; i <= 70; i++ {
			m.at(i)
			if err := s.Step(1 / float64(i)); err != nil {
				break
			}
		}
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
