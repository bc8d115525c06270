package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autodrop-go/autodrop/cmd/autodrop/internal/train"
	"github.com/autodrop-go/autodrop/nn"
	"github.com/autodrop-go/autodrop/schedule"
)

func init() {
	register(command{
		name:    "compare",
		summary: "train under several schedules and seeds with one budget; Markdown table and plot",
		run:     runCompare,
	})
}

// defaultCompare are the schedules compared when no --schedule is given.
var defaultCompare = []string{"constant", "multistep", "cosine", "plateau", "autodrop:cifar", "autodrop"}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("autodrop compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f trainFlags
	f.bind(fs, false)
	var scheds listFlag
	fs.Var(&scheds, "schedule", "a schedule to compare, as for train --schedule; repeat the flag for each (default: "+strings.Join(defaultCompare, ", ")+")")
	seeds := fs.Int("seeds", 3, "number of seeds per schedule: --seed, --seed+1, ...")
	target := fs.Float64("target", 0.98, "target test accuracy (a fraction) for the epochs-to-target column")
	out := fs.String("out", "autodrop-compare", "output `directory`: results.md, accuracy.png, results.json and each run's metrics")
	from := fs.Bool("from-results", false, "train nothing: redo results.md and accuracy.png from --out's results.json (with --target, if given)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprint(w, `usage: autodrop compare [flags]

Trains the same model with each schedule for each of --seeds seeds, with one
budget (--epochs), and writes to --out:

  results.md    a Markdown table: final and best test accuracy (mean ± sample
                std over seeds), epochs until the test accuracy first reaches
                --target (mean over the seeds that reached it), wall time per
                run, and the number of lr drops (epochs after which the lr
                fell to half or less); and, if "autodrop" is among the
                schedules, its final accuracy minus each other's, seed by
                seed
  accuracy.png  test accuracy against the epoch, one line per schedule
                (mean over seeds)
  results.json  every epoch of every run
  runs/         metrics.jsonl of each run

The table is also printed to stdout. The default schedules are the baselines
constant, multistep (milestones at 50% and 75% of the budget), cosine
(t_max = budget), plateau (ReduceLROnPlateau on the test loss, patience
budget/10), AutoDrop with the paper's CIFAR preset (autodrop:cifar) and our
default AutoDrop (autodrop); see "autodrop train -h" for the names.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "autodrop compare: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *seeds < 1 {
		return fmt.Errorf("--seeds %d: want >= 1", *seeds)
	}
	if !(*target > 0 && *target <= 1) {
		return fmt.Errorf("--target %v: want a fraction in (0, 1], e.g. 0.98", *target)
	}
	if *out == "" {
		return errors.New("--out: give an output directory")
	}
	if *from {
		t := 0.0
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "target" {
				t = *target
			}
		})
		return recompare(*out, t, stdout)
	}
	if len(scheds) == 0 {
		scheds = defaultCompare
	}
	// Check every schedule before training anything.
	base, err := f.config()
	if err != nil {
		return err
	}
	runs := make([]train.Runs, len(scheds))
	for i, s := range scheds {
		spec, err := train.ExpandSchedule(s, f.epochs)
		if err != nil {
			return fmt.Errorf("--schedule %q: %w", s, err)
		}
		if _, err := schedule.Parse([]byte(spec), []float64{f.lr}, schedule.ParseOptions{Params: noModel}); err != nil {
			return fmt.Errorf("--schedule %q: %w", s, err)
		}
		runs[i] = train.Runs{Name: s, Spec: spec}
	}
	data, err := loadData(f.data)
	if err != nil {
		return err
	}
	arch, err := base.Arch(data.Features)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(*out, "runs"), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s, %d schedules x %d seeds, %d epochs, batch %d, lr %g, momentum %g\n",
		arch, len(scheds), *seeds, f.epochs, f.batch, f.lr, f.momentum)

	total := len(scheds) * *seeds
	k := 0
	start := time.Now()
	interrupted := false
outer:
	for i := range runs {
		for j := 0; j < *seeds; j++ {
			k++
			cfg := base
			cfg.Schedule, cfg.Spec = runs[i].Name, runs[i].Spec
			cfg.Seed = f.seed + uint64(j)
			hooks := trainHooks(stderr, nil)
			hooks.Epoch = nil
			res, err := train.Run(ctx, cfg, data, "", hooks.Hooks)
			hooks.finish()
			if err != nil {
				return fmt.Errorf("%s, seed %d: %w", runs[i].Name, cfg.Seed, err)
			}
			if res.Interrupted {
				interrupted = true
				break outer
			}
			runs[i].Seeds = append(runs[i].Seeds, cfg.Seed)
			runs[i].Metrics = append(runs[i].Metrics, res.Metrics)
			last := res.Metrics[len(res.Metrics)-1]
			fmt.Fprintf(stderr, "[%d/%d] %-20s seed %d: final test acc %.2f%%, %d drops, %.0fs (elapsed %s)\n",
				k, total, runs[i].Name, cfg.Seed, 100*last.TestAcc, train.CountDrops(res.Metrics),
				sumSeconds(res.Metrics), time.Since(start).Round(time.Second))
			name := fmt.Sprintf("%02d-%s-seed%d.jsonl", i+1, slug(runs[i].Name), cfg.Seed)
			if err := train.WriteMetrics(filepath.Join(*out, "runs", name), res.Metrics); err != nil {
				return err
			}
		}
	}

	done := runs[:0:0]
	for _, r := range runs {
		if len(r.Metrics) > 0 {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return errors.New("interrupted before any run finished; nothing written")
	}
	res := comparison{
		Title:       fmt.Sprintf("%s, %d epochs, batch %d, lr %g, momentum %g, %d seeds", arch, f.epochs, f.batch, f.lr, f.momentum, *seeds),
		Target:      *target,
		Interrupted: interrupted,
		Runs:        done,
	}
	if err := res.write(*out, stdout); err != nil {
		return err
	}
	if interrupted {
		return fmt.Errorf("interrupted; %s holds the runs that finished", filepath.Join(*out, "results.md"))
	}
	return nil
}

// comparison is the content of results.json.
type comparison struct {
	Title       string       `json:"title"`
	Target      float64      `json:"target"`
	Interrupted bool         `json:"interrupted,omitempty"`
	Runs        []train.Runs `json:"runs"`
}

// write writes results.md, results.json and accuracy.png to dir, and the
// table to stdout.
func (c comparison) write(dir string, stdout io.Writer) error {
	sums := make([]train.Summary, len(c.Runs))
	for i, r := range c.Runs {
		sums[i] = train.Summarize(r, c.Target)
	}
	table := train.Table(sums, c.Target)
	var md strings.Builder
	fmt.Fprintf(&md, "%s\n\n", c.Title)
	md.WriteString(table)
	if pt := train.PairedTable(c.Runs, "autodrop"); pt != "" {
		md.WriteString("\nSeed by seed (same initialisation and batch order), `autodrop` against each schedule:\n\n")
		md.WriteString(pt)
	}
	md.WriteString("\nSchedules:\n\n")
	for _, r := range c.Runs {
		fmt.Fprintf(&md, "- `%s`: `%s`\n", r.Name, r.Spec)
	}
	if c.Interrupted {
		md.WriteString("\nINTERRUPTED: the table holds only the runs that finished.\n")
	}
	if err := nn.WriteFileAtomic(filepath.Join(dir, "results.md"), []byte(md.String())); err != nil {
		return err
	}
	js, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return err
	}
	if err := nn.WriteFileAtomic(filepath.Join(dir, "results.json"), js); err != nil {
		return err
	}
	if err := train.WriteAccuracyPlot(filepath.Join(dir, "accuracy.png"), c.Title, c.Runs); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	_, err = fmt.Fprint(stdout, table)
	return err
}

// recompare redoes the table and plot of a results.json in dir, with a new
// target if target > 0.
func recompare(dir string, target float64, stdout io.Writer) error {
	path := filepath.Join(dir, "results.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	var c comparison
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("--from: %s: %v", path, err)
	}
	if len(c.Runs) == 0 {
		return fmt.Errorf("--from: %s holds no runs", path)
	}
	if target > 0 {
		c.Target = target
	}
	return c.write(dir, stdout)
}

func sumSeconds(ms []train.Metrics) float64 {
	s := 0.0
	for _, m := range ms {
		s += m.Seconds
	}
	return s
}

// slug makes a schedule name usable in a file name.
func slug(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	r := b.String()
	if len(r) > 60 {
		r = r[:60]
	}
	return r
}
