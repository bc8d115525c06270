package train

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/autodrop-go/autodrop/nn"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Runs are the runs of one schedule in a comparison, one per seed.
type Runs struct {
	// Name is the schedule as given (a shorthand or a JSON spec), Spec its
	// expansion.
	Name, Spec string
	Seeds      []uint64
	Metrics    [][]Metrics
}

// Summary aggregates the runs of one schedule.
type Summary struct {
	Name string
	// FinalMean, FinalStd: test accuracy after the last epoch; BestMean,
	// BestStd: the best test accuracy of any epoch (mean and sample
	// standard deviation over the seeds).
	FinalMean, FinalStd float64
	BestMean, BestStd   float64
	// Reached is the number of seeds that reached the target accuracy and
	// ToTarget the mean epoch at which they first did (NaN if none).
	Reached  int
	ToTarget float64
	// Seconds is the mean wall time of a run; Drops the mean number of
	// learning-rate drops (see CountDrops).
	Seconds float64
	Drops   float64
	N       int
}

// CountDrops counts the drops that took effect within a run: the epochs
// after which the rate fell to half or less (AutoDrop's drops, MultiStep's
// milestones, Plateau's reductions; a cosine only at its last steps). An
// AutoDrop decision at the lr floor, or after the last epoch, changes
// nothing and is not counted.
func CountDrops(ms []Metrics) int {
	n := 0
	for i := 0; i+1 < len(ms); i++ {
		if ms[i+1].LR <= 0.5*ms[i].LR {
			n++
		}
	}
	return n
}

func meanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)-1))
}

// Summarize aggregates r with the target test accuracy target (a fraction).
func Summarize(r Runs, target float64) Summary {
	s := Summary{Name: r.Name, N: len(r.Metrics)}
	var final, best, to, secs, drops []float64
	for _, ms := range r.Metrics {
		if len(ms) == 0 {
			continue
		}
		final = append(final, ms[len(ms)-1].TestAcc)
		b, sec := 0.0, 0.0
		hit := 0
		for _, m := range ms {
			b = math.Max(b, m.TestAcc)
			sec += m.Seconds
			if hit == 0 && m.TestAcc >= target {
				hit = m.Epoch
			}
		}
		best = append(best, b)
		secs = append(secs, sec)
		drops = append(drops, float64(CountDrops(ms)))
		if hit > 0 {
			to = append(to, float64(hit))
		}
	}
	s.FinalMean, s.FinalStd = meanStd(final)
	s.BestMean, s.BestStd = meanStd(best)
	s.Reached = len(to)
	s.ToTarget, _ = meanStd(to)
	s.Seconds, _ = meanStd(secs)
	s.Drops, _ = meanStd(drops)
	return s
}

// Table formats summaries as a Markdown table.
func Table(sums []Summary, target float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| schedule | final test acc (%%) | best test acc (%%) | epochs to %.2f%% | wall time per run (s) | lr drops |\n", 100*target)
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, s := range sums {
		to := "never"
		if s.Reached > 0 {
			to = fmt.Sprintf("%.1f", s.ToTarget)
			if s.Reached < s.N {
				to += fmt.Sprintf(" (%d of %d seeds)", s.Reached, s.N)
			}
		}
		fmt.Fprintf(&b, "| %s | %.2f ± %.2f | %.2f ± %.2f | %s | %.0f | %.1f |\n",
			mdEscape(s.Name), 100*s.FinalMean, 100*s.FinalStd, 100*s.BestMean, 100*s.BestStd, to, s.Seconds, s.Drops)
	}
	return b.String()
}

func mdEscape(s string) string {
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

// WriteAccuracyPlot draws the test accuracy against the epoch, the mean over
// the seeds of each schedule as one line, and writes it as a PNG to path
// atomically.
func WriteAccuracyPlot(path, title string, runs []Runs) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "test accuracy (mean over seeds)"
	p.Add(plotter.NewGrid())
	lo := 1.0
	for i, r := range runs {
		mean := meanCurve(r)
		if len(mean) == 0 {
			continue
		}
		pts := make(plotter.XYs, len(mean))
		for e, v := range mean {
			pts[e] = plotter.XY{X: float64(e + 1), Y: v}
			if e >= len(mean)/5 {
				lo = math.Min(lo, v)
			}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		// Earlier lines are wider, so that identical curves (a schedule
		// that never changes the rate and constant) both show.
		l.Width = vg.Points(math.Max(1, 4-0.5*float64(i)))
		if i >= len(palette) {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(r.Name, l)
	}
	// Zoom on the later epochs, where the schedules differ.
	p.Y.Min = math.Max(0, lo-0.002)
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	w, err := p.WriterTo(9*vg.Inch, 5.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return err
	}
	return nn.WriteFileAtomic(path, buf.Bytes())
}

// meanCurve returns the mean test accuracy per epoch over the runs that
// reached that epoch.
func meanCurve(r Runs) []float64 {
	var sum []float64
	var cnt []int
	for _, ms := range r.Metrics {
		for i, m := range ms {
			if i >= len(sum) {
				sum = append(sum, 0)
				cnt = append(cnt, 0)
			}
			sum[i] += m.TestAcc
			cnt[i]++
		}
	}
	for i := range sum {
		sum[i] /= float64(cnt[i])
	}
	return sum
}

// PairedTable compares the final test accuracy of the schedule named ref
// with each other schedule seed by seed (the runs of one seed share the
// initialisation and the order of the batches), as a Markdown table: the
// mean and sample standard deviation of ref's accuracy minus the other's,
// and on how many seeds ref was higher, equal and lower. It returns "" if
// no schedule is named ref.
func PairedTable(runs []Runs, ref string) string {
	ri := -1
	for i, r := range runs {
		if r.Name == ref {
			ri = i
		}
	}
	if ri < 0 {
		return ""
	}
	final := func(r Runs) map[uint64]float64 {
		m := map[uint64]float64{}
		for i, ms := range r.Metrics {
			if i < len(r.Seeds) && len(ms) > 0 {
				m[r.Seeds[i]] = ms[len(ms)-1].TestAcc
			}
		}
		return m
	}
	base := final(runs[ri])
	var b strings.Builder
	fmt.Fprintf(&b, "| `%s` minus | final test acc difference (pp) | seeds higher / equal / lower |\n|---|---|---|\n", ref)
	for i, r := range runs {
		if i == ri {
			continue
		}
		var d []float64
		hi, eq, lo := 0, 0, 0
		other := final(r)
		for _, s := range runs[ri].Seeds {
			o, ok := other[s]
			if !ok {
				continue
			}
			x := 100 * (base[s] - o)
			d = append(d, x)
			switch {
			case x > 0:
				hi++
			case x < 0:
				lo++
			default:
				eq++
			}
		}
		if len(d) == 0 {
			continue
		}
		mean, std := meanStd(d)
		fmt.Fprintf(&b, "| %s | %+.2f ± %.2f | %d / %d / %d |\n", mdEscape(r.Name), mean, std, hi, eq, lo)
	}
	return b.String()
}
