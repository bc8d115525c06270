package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/autodrop-go/autodrop"
	"github.com/autodrop-go/autodrop/internal/atomicfile"
	"github.com/autodrop-go/autodrop/schedule"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func init() {
	register(command{
		name:    "schedule",
		summary: "print (and plot) the learning rates of a schedule given as JSON",
		run:     runSchedule,
	})
}

func scheduleUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprint(w, `usage: autodrop schedule --spec JSON [--lr 0.1] [--steps 20] [--metrics 1,0.9,...] [--plot FILE.png]

Prints the learning rate of a schedule, one line per step: the lr at
construction (step 0), then the lr after each of --steps steps. With several
parameter groups (--lr 0.1,0.01) a line holds one lr per group. The spec is
the JSON that "autodrop train --schedule" takes.

Example:
  autodrop schedule --spec '{"type":"multistep","milestones":[3,6,8],"gamma":0.2}' --lr 0.1 --steps 20

flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(w, `
spec types and fields (PyTorch's argument names in snake case; omitted fields
take PyTorch's defaults):
`)
		for _, t := range schedule.Types() {
			fmt.Fprintf(w, "\n  %s", t.Name)
			if t.PyTorch != "" {
				fmt.Fprintf(w, " (PyTorch %s)", t.PyTorch)
			}
			fmt.Fprintf(w, "\n      %s\n", t.Summary)
			for _, f := range t.Fields {
				fmt.Fprintf(w, "    %-17s %-26s default %s\n", f.Name, f.Type, f.Default)
				fmt.Fprintf(w, "        %s\n", f.Doc)
			}
		}
		fmt.Fprint(w, `
The plateau type needs a metric at every step (--metrics). An autodrop
schedule observes a model's parameters, so it only runs inside training
("autodrop train --schedule"); here a step that reaches it is an error (a
warmup before it in a sequential can still be printed up to its milestone).
`)
	}
}

func runSchedule(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("autodrop schedule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spec := fs.String("spec", "", "the schedule as `JSON`, e.g. {\"type\":\"cosine\",\"t_max\":10} (required)")
	lrFlag := fs.String("lr", "0.1", "base learning rate; a comma-separated `list` gives one per parameter group")
	steps := fs.Int("steps", 20, "number of steps to print after step 0 (`n`); defaults to the number of --metrics when those are given")
	metricsFlag := fs.String("metrics", "", "comma-separated metric (e.g. validation loss) passed to each step, for plateau (`list`)")
	plotFile := fs.String("plot", "", "also draw the schedule into `FILE`.png (or .svg, .pdf)")
	fs.Usage = scheduleUsage(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "autodrop schedule: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	stepsSet := false
	fs.Visit(func(f *flag.Flag) { stepsSet = stepsSet || f.Name == "steps" })
	if strings.TrimSpace(*spec) == "" {
		return errors.New(`--spec is required, e.g. --spec '{"type":"step","step_size":10}' (see -h for every type)`)
	}
	base, err := parseFloats(*lrFlag)
	if err != nil {
		return fmt.Errorf("--lr %q: %v", *lrFlag, err)
	}
	var metrics []float64
	if *metricsFlag != "" {
		if metrics, err = parseFloats(*metricsFlag); err != nil {
			return fmt.Errorf("--metrics: %v", err)
		}
		if !stepsSet {
			*steps = len(metrics)
		} else if len(metrics) != *steps {
			return fmt.Errorf("--metrics has %d values but --steps is %d: give one metric per step", len(metrics), *steps)
		}
	}
	if *steps < 0 {
		return fmt.Errorf("--steps %d: want >= 0", *steps)
	}
	var format string
	if *plotFile != "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(*plotFile)), ".")
		if format != "png" && format != "svg" && format != "pdf" {
			return fmt.Errorf("--plot %q: the file name must end in .png, .svg or .pdf", *plotFile)
		}
	}

	s, err := schedule.Parse([]byte(*spec), base, schedule.ParseOptions{Params: noModel})
	if err != nil {
		return err
	}
	lrs := [][]float64{s.LRs()}
	for i := 1; i <= *steps; i++ {
		var err error
		if metrics != nil {
			err = s.Step(metrics[i-1])
		} else {
			err = s.Step()
		}
		if err != nil {
			if errors.Is(err, schedule.ErrNoMetric) {
				return fmt.Errorf("step %d: %v: pass one metric per step with --metrics", i, err)
			}
			if errors.Is(err, autodrop.ErrEmpty) {
				return fmt.Errorf("step %d: %w", i, errNoModel)
			}
			return fmt.Errorf("step %d: %w", i, err)
		}
		lrs = append(lrs, s.LRs())
	}

	if *plotFile != "" {
		if err := plotSchedule(*plotFile, format, *spec, lrs); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	var out bytes.Buffer
	for _, row := range lrs {
		for g, lr := range row {
			if g > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(strconv.FormatFloat(lr, 'g', -1, 64))
		}
		out.WriteByte('\n')
	}
	_, err = stdout.Write(out.Bytes())
	return err
}

// errNoModel is what an autodrop schedule gets when it steps here.
var errNoModel = errors.New(`an autodrop schedule observes a model's parameters and cannot step without one; use it in "autodrop train --schedule"`)

// noModel lets autodrop specs parse, so that a sequential whose autodrop
// child starts after the last printed step can be printed; a step that
// reaches the autodrop child fails with an empty-parameters error.
func noModel() [][]float32 { return nil }

func parseFloats(s string) ([]float64, error) {
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("value %d (%q) is not a number", i+1, p)
		}
		out[i] = v
	}
	return out, nil
}

// plotSchedule draws one line per parameter group and writes the file
// atomically: a temporary file in the same directory, synced, then renamed.
func plotSchedule(path, format, spec string, lrs [][]float64) error {
	p := plot.New()
	p.Title.Text = abbreviate(spec, 80)
	p.X.Label.Text = "step"
	p.Y.Label.Text = "learning rate"
	p.Add(plotter.NewGrid())
	groups := len(lrs[0])
	for g := 0; g < groups; g++ {
		pts := make(plotter.XYs, len(lrs))
		for i, row := range lrs {
			pts[i].X, pts[i].Y = float64(i), row[g]
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		c := plotColors[g%len(plotColors)]
		line.Color, points.Color = c, c
		points.Radius = vg.Points(1.5)
		p.Add(line, points)
		if groups > 1 {
			p.Legend.Add(fmt.Sprintf("group %d", g), line)
		}
	}
	p.Legend.Top = true
	w, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, format)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(f io.Writer) error {
		_, err := w.WriteTo(f)
		return err
	})
}

var plotColors = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

func abbreviate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-3] + "..."
	}
	return s
}
