package epochs

import (
	"testing"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/schedule"
)

// TestSteppers drives the core and a parsed AutoDrop spec over the same
// trajectory and checks that both report the same records and rates, that
// the schedule reads the parameters only when it needs them, and that a
// multistep schedule never asks for them.
func TestSteppers(t *testing.T) {
	cfg := autodrop.Config{LR: 0.1, DropFactor: 0.5, Theta: 1e6}
	core, _ := autodrop.New[float32](cfg)
	a, err := ForScheduler(core)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ForSchedule(func(params func() [][]float32) (schedule.Schedule, error) {
		return schedule.Parse([]byte(`{"type":"autodrop","drop_factor":0.5,"theta":1e6,"max_theta":0,"min_lr":0,"patience":0,"auto_theta":false,"tail_average":false}`),
			[]float64{0.1}, schedule.ParseOptions{Params: params})
	})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{0, 0}
	for e := 1; e <= 6; e++ {
		x[0] += float32(e)
		x[1] += float32(e * e % 5)
		if !a.ReadsParams() || !b.ReadsParams() {
			t.Fatal("AutoDrop must read the parameters every epoch")
		}
		ra, ha, err := a.Observe([][]float32{append([]float32(nil), x...)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rb, hb, err := b.Observe([][]float32{append([]float32(nil), x...)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		la, _ := a.LR()
		lb, _ := b.LR()
		if ra != rb || ha != hb || la != lb || a.Epochs() != e || b.Epochs() != e {
			t.Fatalf("epoch %d: core %v %v lr %v, schedule %v %v lr %v", e, ra, ha, la, rb, hb, lb)
		}
	}
	if l, _ := a.LR(); l >= 0.1 {
		t.Fatalf("no drop with theta 1e6: lr %v", l)
	}

	m, err := ForSchedule(func(func() [][]float32) (schedule.Schedule, error) {
		return schedule.Parse([]byte(`{"type":"multistep","milestones":[2],"gamma":0.1}`), []float64{1}, schedule.ParseOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, has, err := m.Observe(nil, nil); err != nil || has || m.ReadsParams() {
		t.Fatalf("multistep: has %v err %v reads %v", has, err, m.ReadsParams())
	}
	if _, err := ForSchedule(func(func() [][]float32) (schedule.Schedule, error) {
		return schedule.Parse([]byte(`{"type":"constant"}`), []float64{1, 2}, schedule.ParseOptions{})
	}); err == nil {
		t.Fatal("two parameter groups accepted")
	}
	if _, err := ForScheduler[float32](nil); err == nil {
		t.Fatal("nil scheduler accepted")
	}
}
