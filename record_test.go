package autodrop

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestRecordHooks checks that OnRecord receives exactly the records Observe
// returns and that the logger gets one entry per observation, drops at Info.
func TestRecordHooks(t *testing.T) {
	traj := loadMNISTTrajectory(t)
	var got []Record
	var logs bytes.Buffer
	cfg := firingConfig()
	cfg.OnRecord = func(r Record) { got = append(got, r) }
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := mustNew[float32](t, cfg)
	var want []Record
	for _, row := range traj {
		rec, _ := observeRow(t, s, row)
		want = append(want, rec)
	}
	if len(got) != len(want) {
		t.Fatalf("%d callbacks for %d observations", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("callback %d: %v, want %v", i, got[i], want[i])
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d log lines for %d observations", len(lines), len(want))
	}
	drops := 0
	for i, l := range lines {
		var e struct {
			Level  string
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if int(e.Record["epoch"].(float64)) != want[i].Epoch || e.Record["dropped"] != want[i].Dropped {
			t.Fatalf("log line %d: %s for %v", i, l, want[i])
		}
		if want[i].Dropped {
			drops++
			if e.Level != "INFO" {
				t.Errorf("drop logged at %s", e.Level)
			}
		}
		if _, ok := e.Record["angle"]; ok != want[i].HasAngle {
			t.Errorf("log line %d: angle present %v, HasAngle %v", i, ok, want[i].HasAngle)
		}
	}
	if drops == 0 {
		t.Fatal("no drop in the run")
	}
	if s := want[len(want)-1].String(); !strings.Contains(s, "epoch 40") || !strings.Contains(s, "angle") {
		t.Errorf("String() = %q", s)
	}
}
