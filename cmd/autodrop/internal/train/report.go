package train

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"github.com/autodrop-go/autodrop/nn"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Colors used by the plots (matplotlib's first colours).
var (
	colBlue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	colOrange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	colGreen  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	colRed    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	colGrey   = color.RGBA{R: 120, G: 120, B: 120, A: 255}
	palette   = []color.Color{colBlue, colOrange, colGreen, colRed,
		color.RGBA{R: 148, G: 103, B: 189, A: 255}, color.RGBA{R: 140, G: 86, B: 75, A: 255},
		color.RGBA{R: 227, G: 119, B: 194, A: 255}, colGrey}
)

// WriteReport draws the learning rate, AutoDrop's angular velocity (and its
// change), the losses and the accuracies against the epoch, one panel each,
// with a dashed red line after every epoch at whose end AutoDrop dropped the
// rate (grey and dotted if the rate was already at its floor, so that the
// drop changed nothing), and writes it as a PNG to path atomically. nextLR
// is the rate after the last epoch (Result.NextLR).
func WriteReport(path, title string, ms []Metrics, nextLR float64) error {
	if len(ms) == 0 {
		return fmt.Errorf("report: no epochs to plot")
	}
	lr := plot.New()
	lr.Title.Text = title
	lr.Y.Label.Text = "learning rate"
	lr.Y.Scale = plot.LogScale{}
	lr.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	addLine(lr, "lr", colBlue, ms, func(m Metrics) (float64, bool) { return m.LR, m.LR > 0 })

	ang := plot.New()
	ang.Y.Label.Text = "degrees"
	ang.Y.Scale = plot.LogScale{}
	ang.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	hasAngle := nil != addLine(ang, "angular velocity", colBlue, ms, func(m Metrics) (float64, bool) {
		if m.Angle == nil {
			return 0, false
		}
		return *m.Angle, true
	})
	addLine(ang, "|delta| (change of the angle, averaged over the window)", colOrange, ms, func(m Metrics) (float64, bool) {
		if m.Delta == nil {
			return 0, false
		}
		return math.Abs(*m.Delta), *m.Delta != 0
	})
	if hasAngle {
		if l := addLine(ang, "theta (drop armed when |delta| < theta)", colGreen, ms, func(m Metrics) (float64, bool) {
			if m.Theta == nil {
				return 0, false
			}
			return *m.Theta, true
		}); l != nil {
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		}
	}
	if hasAngle {
		logRange(ang, ms, func(m Metrics) []float64 {
			var v []float64
			for _, p := range []*float64{m.Angle, m.Delta, m.Theta} {
				if p != nil {
					v = append(v, math.Abs(*p))
				}
			}
			return v
		})
		ang.Y.Max *= 8 // room for the legend
	} else {
		ang.Title.Text = "(no AutoDrop in this schedule: no angular velocity)"
		ang.Title.TextStyle.Font.Size = vg.Points(9)
		ang.Y.Min, ang.Y.Max = 1, 10
	}

	loss := plot.New()
	loss.Y.Label.Text = "loss"
	loss.Y.Scale = plot.LogScale{}
	loss.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	addLine(loss, "train", colBlue, ms, func(m Metrics) (float64, bool) { return m.TrainLoss, m.TrainLoss > 0 })
	addLine(loss, "test", colOrange, ms, func(m Metrics) (float64, bool) { return m.TestLoss, m.TestLoss > 0 })

	acc := plot.New()
	acc.Y.Label.Text = "accuracy"
	acc.X.Label.Text = "epoch"
	addLine(acc, "train", colBlue, ms, func(m Metrics) (float64, bool) { return m.TrainAcc, true })
	addLine(acc, "test", colOrange, ms, func(m Metrics) (float64, bool) { return m.TestAcc, true })

	logRange(lr, ms, func(m Metrics) []float64 { return []float64{m.LR} })
	logRange(loss, ms, func(m Metrics) []float64 { return []float64{m.TrainLoss, m.TestLoss} })

	lr.Y.Min /= 2
	lr.Y.Max *= 2

	panels := []*plot.Plot{lr, ang, loss, acc}
	for _, p := range panels {
		p.Add(plotter.NewGrid())
		p.X.Min, p.X.Max = 0.5, float64(len(ms))+0.5
		p.Legend.Top = true
		p.Legend.Left = p == ang
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		markDrops(p, ms, nextLR, p == lr)
	}
	acc.Legend.Top = false

	const w, h = 8 * vg.Inch, 10 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(6)}
	grid := [][]*plot.Plot{{lr}, {ang}, {loss}, {acc}}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		grid[i][0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return err
	}
	return nn.WriteFileAtomic(path, buf.Bytes())
}

// logRange sets the range of a log-scale Y axis to the positive finite
// values of f, widened when they are all equal (gonum would otherwise pad
// the range below zero).
func logRange(p *plot.Plot, ms []Metrics, f func(Metrics) []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range ms {
		for _, v := range f(m) {
			if v > 0 && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1e-3, 1
	}
	if hi/lo < 10 {
		mid := math.Sqrt(lo * hi)
		lo, hi = math.Min(lo, mid/math.Sqrt(10)), math.Max(hi, mid*math.Sqrt(10))
	}
	p.Y.Min, p.Y.Max = lo, hi
}

// addLine adds a line of the points for which f returns true and returns
// it, or nil if there were none.
func addLine(p *plot.Plot, name string, c color.Color, ms []Metrics, f func(Metrics) (float64, bool)) *plotter.Line {
	var pts plotter.XYs
	for _, m := range ms {
		if v, ok := f(m); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			pts = append(pts, plotter.XY{X: float64(m.Epoch), Y: v})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil
	}
	l.Color, s.Color = c, c
	s.Radius = vg.Points(1.5)
	p.Add(l, s)
	p.Legend.Add(name, l)
	return l
}

// markDrops draws a vertical line at epoch+0.5 for each drop, between the
// last epoch at the old rate and the first at the new one: red and dashed
// if the rate fell, grey and dotted if it was already at its floor. With
// legend it adds legend entries.
func markDrops(p *plot.Plot, ms []Metrics, nextLR float64, legend bool) {
	seen := map[bool]bool{}
	for i, m := range ms {
		if !m.Dropped {
			continue
		}
		next := nextLR
		if i+1 < len(ms) {
			next = ms[i+1].LR
		}
		l := &vline{x: float64(m.Epoch) + 0.5, noop: !Fell(m.LR, next)}
		p.Add(l)
		if legend && !seen[l.noop] {
			name := "AutoDrop drop"
			if l.noop {
				name = "AutoDrop drop at the lr floor (no change)"
			}
			p.Legend.Add(name, l)
			seen[l.noop] = true
		}
	}
}

// Fell reports whether the rate fell from prev to next by more than
// rounding (a drop to the min_lr floor from a rate a rounding error above it
// is no change).
func Fell(prev, next float64) bool {
	return next < prev*(1-1e-9)
}

// vline is a vertical line across a plot.
type vline struct {
	x    float64
	noop bool
}

func (v *vline) style() draw.LineStyle {
	if v.noop {
		return draw.LineStyle{Color: colGrey, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
	}
	return draw.LineStyle{Color: colRed, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
}

// Plot implements plot.Plotter.
func (v *vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style(), x, c.Min.Y, x, c.Max.Y)
}

// Thumbnail implements plot.Thumbnailer, for the legend.
func (v *vline) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(v.style(), c.Min.X, y, c.Max.X, y)
}
