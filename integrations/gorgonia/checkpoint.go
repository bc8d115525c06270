package gorgoniadrop

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"
	"slices"

	"github.com/autodrop-go/autodrop/internal/atomicfile"
	"gorgonia.org/tensor"
)

// File magics: a checkpoint holds the learnables and the schedule state, a
// state file only the schedule state.
const (
	checkpointMagic = "autodrop-gorgonia-checkpoint/1\n"
	stateMagic      = "autodrop-gorgonia-state/1\n"
)

// fileState is the gob-encoded body of both files.
type fileState struct {
	Epoch  int
	State  []byte          // the schedule's MarshalBinary
	Values []*tensor.Dense // the learnables (checkpoints only)
	Names  []string        // their node names, for error messages
}

// MarshalBinary returns the adapter's state: the schedule state and the
// number of epochs ended. It does not include the learnables.
func (a *Adapter[T]) MarshalBinary() ([]byte, error) {
	st, err := a.sched.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("gorgoniadrop: marshaling the schedule state: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(stateMagic)
	if err := gob.NewEncoder(&buf).Encode(fileState{Epoch: a.epoch, State: st}); err != nil {
		return nil, fmt.Errorf("gorgoniadrop: encoding the state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary restores a state written by MarshalBinary into the
// schedule (built with the same arguments) and sets the solver's learning
// rate to the restored one. On error nothing changes.
func (a *Adapter[T]) UnmarshalBinary(data []byte) error {
	fs, err := decode(data, stateMagic, "state")
	if err != nil {
		return err
	}
	return a.restore(fs)
}

func decode(data []byte, magic, what string) (_ *fileState, err error) {
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, fmt.Errorf("gorgoniadrop: not an AutoDrop Gorgonia %s (bad magic)", what)
	}
	defer func() {
		// tensor.Dense's GobDecode may panic on corrupted input.
		if r := recover(); r != nil {
			err = fmt.Errorf("gorgoniadrop: decoding the %s: corrupted data (%v)", what, r)
		}
	}()
	var fs fileState
	if err := gob.NewDecoder(bytes.NewReader(data[len(magic):])).Decode(&fs); err != nil {
		return nil, fmt.Errorf("gorgoniadrop: decoding the %s: %w", what, err)
	}
	if fs.Epoch < 0 || len(fs.Names) != len(fs.Values) {
		return nil, fmt.Errorf("gorgoniadrop: decoding the %s: inconsistent content (epoch %d, %d names for %d values)",
			what, fs.Epoch, len(fs.Names), len(fs.Values))
	}
	return &fs, nil
}

func (a *Adapter[T]) restore(fs *fileState) error {
	old, err := a.sched.MarshalBinary()
	if err != nil {
		return fmt.Errorf("gorgoniadrop: marshaling the current schedule state: %w", err)
	}
	if err := a.sched.UnmarshalBinary(fs.State); err != nil {
		return fmt.Errorf("gorgoniadrop: restoring the schedule state: %w", err)
	}
	if err := a.applyLR(); err != nil {
		_ = a.sched.UnmarshalBinary(old)
		return err
	}
	a.epoch = fs.Epoch
	a.has = false
	return nil
}

// SaveState writes the adapter's state (MarshalBinary) to path atomically:
// a side file to keep next to a checkpoint of the model saved some other
// way, written after the same EpochEnd.
func (a *Adapter[T]) SaveState(path string) error {
	b, err := a.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// LoadState restores a state written by SaveState (see UnmarshalBinary).
func (a *Adapter[T]) LoadState(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("gorgoniadrop: %w", err)
	}
	if err := a.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	return nil
}

// SaveCheckpoint writes to path, atomically, the values of the learnables
// (each *tensor.Dense gob-encoded, Gorgonia's own encoding) and the
// adapter's state. Call it between solver steps, e.g. after EpochEnd.
// The solver's own state (momentum velocities, Adam moments) is unexported
// in Gorgonia and is not saved.
func (a *Adapter[T]) SaveCheckpoint(path string) error {
	st, err := a.sched.MarshalBinary()
	if err != nil {
		return fmt.Errorf("gorgoniadrop: marshaling the schedule state: %w", err)
	}
	fs := fileState{Epoch: a.epoch, State: st}
	for _, n := range a.nodes {
		d, ok := n.Value().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("gorgoniadrop: learnable %s has a %T value, want *tensor.Dense", n.Name(), n.Value())
		}
		fs.Values = append(fs.Values, d)
		fs.Names = append(fs.Names, n.Name())
	}
	var buf bytes.Buffer
	buf.WriteString(checkpointMagic)
	if err := gob.NewEncoder(&buf).Encode(fs); err != nil {
		return fmt.Errorf("gorgoniadrop: encoding the checkpoint: %w", err)
	}
	return writeFileAtomic(path, buf.Bytes())
}

// LoadCheckpoint restores a checkpoint written by SaveCheckpoint: it copies
// the saved values into the learnables (in place; shapes and dtypes must
// match), restores the schedule state and sets the solver's learning rate.
// On error the learnables and the schedule are unchanged.
func (a *Adapter[T]) LoadCheckpoint(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("gorgoniadrop: %w", err)
	}
	fs, err := decode(b, checkpointMagic, "checkpoint")
	if err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	if len(fs.Values) != len(a.nodes) {
		return fmt.Errorf("gorgoniadrop: checkpoint %s holds %d learnables, the model has %d", path, len(fs.Values), len(a.nodes))
	}
	views, err := a.params()
	if err != nil {
		return err
	}
	src := make([][]T, len(views))
	for i, d := range fs.Values {
		n := a.nodes[i]
		if d == nil || !slices.Equal(d.Shape(), n.Shape()) {
			return fmt.Errorf("gorgoniadrop: checkpoint %s: learnable %d (%s) has shape %v, the model's (%s) is %v",
				path, i, fs.Names[i], shapeOf(d), n.Name(), n.Shape())
		}
		var zero T
		switch any(zero).(type) {
		case float32:
			if d.Dtype() == tensor.Float32 {
				src[i] = any(d.Float32s()).([]T)
			}
		case float64:
			if d.Dtype() == tensor.Float64 {
				src[i] = any(d.Float64s()).([]T)
			}
		}
		if src[i] == nil || len(src[i]) != len(views[i]) {
			return fmt.Errorf("gorgoniadrop: checkpoint %s: learnable %d (%s) has dtype %v, want %T", path, i, fs.Names[i], d.Dtype(), zero)
		}
	}
	if err := a.restore(fs); err != nil {
		return fmt.Errorf("%w (file %s)", err, path)
	}
	for i := range views {
		copy(views[i], src[i])
	}
	clear(a.views)
	return nil
}

func shapeOf(d *tensor.Dense) any {
	if d == nil {
		return "none"
	}
	return d.Shape()
}

// writeFileAtomic writes data to path atomically (temporary file, sync,
// rename, directory sync).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("gorgoniadrop: %w", err)
	}
	return nil
}
