package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/autodrop-go/autodrop"
)

func init() {
	register(command{
		name:    "replay",
		summary: "run AutoDrop over a recorded parameter trajectory and print its decisions",
		run:     runReplay,
	})
}

const replayUsage = `usage: autodrop replay [flags] FILE

Replays a raw parameter trajectory through AutoDrop and prints one JSON object
per epoch to stdout:

  {"epoch":k, "angle":deg|null, "delta":deg|null, "armed":bool, "left":n,
   "dropped":bool, "theta":deg, "lr":x[, "average_sum":x, "average_l2":x]}

angle is null before epoch 3 and delta before epoch window+3. average_sum and
average_l2 (sum and L2 norm of the averaged parameters) appear on a drop with
tail averaging. An epoch whose values are not finite prints
{"epoch":k,"error":"..."} and the run continues with the state unchanged.

FILE holds little-endian values, row-major [epoch][param]; its size must be a
multiple of the row size (--params values of --dtype).

The configuration starts from --preset (default cifar: the authors' CIFAR
settings) and any flag given explicitly overrides it.

flags:
`

// replayFlags binds the AutoDrop configuration flags to cfg.
func replayFlags(fs *flag.FlagSet, cfg *autodrop.Config) {
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "initial learning rate")
	fs.Float64Var(&cfg.DropFactor, "drop-factor", cfg.DropFactor, "lr multiplier at a drop (rho), in (0,1)")
	fs.Float64Var(&cfg.Theta, "theta", cfg.Theta, "saturation threshold in degrees")
	fs.Float64Var(&cfg.MaxTheta, "max-theta", cfg.MaxTheta, "cap for theta adaptation (0: no cap)")
	fs.Float64Var(&cfg.MinLR, "min-lr", cfg.MinLR, "floor for the lr (0: no floor)")
	fs.IntVar(&cfg.Patience, "patience", cfg.Patience, "observations between arming and the drop (the reference's extra epochs minus 1)")
	fs.BoolVar(&cfg.AutoTheta, "auto-theta", cfg.AutoTheta, "theta <- min(max-theta, theta/drop-factor) at each drop")
	fs.BoolVar(&cfg.TailAverage, "tail-average", cfg.TailAverage, "write back the weighted average of the armed epochs at a drop")
	fs.IntVar(&cfg.Window, "window", cfg.Window, "number of deltas averaged before the test")
	fs.Float64Var(&cfg.Epsilon, "epsilon", cfg.Epsilon, "epsilon added to the norm product in the cosine")
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage)
		fs.PrintDefaults()
	}
	preset := fs.String("preset", "cifar", "base settings: cifar or imagenet")
	dtype := fs.String("dtype", "float32", "element type of FILE: float32 or float64")
	nParams := fs.Int("params", 0, "number of parameters per epoch (required)")
	// Parse once to learn the preset, then bind the config flags to it and
	// parse again so explicit flags override the preset.
	var cfg autodrop.Config
	replayFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	base, err := autodrop.Preset(*preset)
	if err != nil {
		return err
	}
	over := flag.NewFlagSet("replay", flag.ContinueOnError)
	over.SetOutput(io.Discard)
	replayFlags(over, &base)
	fs.Visit(func(f *flag.Flag) {
		if over.Lookup(f.Name) != nil {
			over.Set(f.Name, f.Value.String())
		}
	})
	cfg = base
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "replay: need exactly one FILE argument")
		fs.Usage()
		return errUsage
	}
	if *nParams <= 0 {
		return fmt.Errorf("--params must be > 0 (got %d)", *nParams)
	}
	path := fs.Arg(0)
	switch *dtype {
	case "float32":
		return replay[float32](ctx, path, *nParams, cfg, stdout)
	case "float64":
		return replay[float64](ctx, path, *nParams, cfg, stdout)
	}
	return fmt.Errorf("--dtype %q: must be float32 or float64", *dtype)
}

// replayLine is one line of replay's output.
type replayLine struct {
	Epoch      int      `json:"epoch"`
	Angle      *float64 `json:"angle"`
	Delta      *float64 `json:"delta"`
	Armed      bool     `json:"armed"`
	Left       int      `json:"left"`
	Dropped    bool     `json:"dropped"`
	Theta      float64  `json:"theta"`
	LR         float64  `json:"lr"`
	AverageSum *float64 `json:"average_sum,omitempty"`
	AverageL2  *float64 `json:"average_l2,omitempty"`
}

func replay[T autodrop.Float](ctx context.Context, path string, n int, cfg autodrop.Config, stdout io.Writer) error {
	sched, err := autodrop.New[T](cfg)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var zero T
	elem := binary.Size(zero)
	row := int64(n) * int64(elem)
	if st.Size()%row != 0 {
		return fmt.Errorf("%s: size %d bytes is not a multiple of the row size %d (%d params of %d bytes); check --params and --dtype", path, st.Size(), row, n, elem)
	}
	epochs := int(st.Size() / row)
	r := bufio.NewReaderSize(f, 1<<20)
	raw := make([]byte, row)
	params := [][]T{make([]T, n)}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for e := 1; e <= epochs; e++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, raw); err != nil {
			return fmt.Errorf("%s: epoch %d: %w", path, e, err)
		}
		decodeRow(raw, params[0])
		rec, err := sched.Observe(params)
		if err != nil {
			if err := enc.Encode(struct {
				Epoch int    `json:"epoch"`
				Error string `json:"error"`
			}{e, err.Error()}); err != nil {
				return err
			}
			continue
		}
		line := replayLine{Epoch: e, Armed: rec.Armed, Left: rec.Left, Dropped: rec.Dropped, Theta: rec.Theta, LR: rec.LR}
		if rec.HasAngle {
			line.Angle = &rec.Angle
		}
		if rec.HasDelta {
			line.Delta = &rec.Delta
		}
		if rec.Averaged {
			var sum, sq float64
			for _, v := range params[0] {
				sum += float64(v)
				sq += float64(v) * float64(v)
			}
			l2 := math.Sqrt(sq)
			line.AverageSum, line.AverageL2 = &sum, &l2
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return w.Flush()
}

// decodeRow decodes little-endian values of dst's element type.
func decodeRow[T autodrop.Float](raw []byte, dst []T) {
	switch d := any(dst).(type) {
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
}
