package nn

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"

	"github.com/autodrop-go/autodrop/internal/atomicfile"
)

// Binary state formats (all integers and floats little-endian):
//
//	model: "ADNNMOD1", uint32 len + architecture string, tensors, CRC-32
//	SGD:   "ADNNSGD1", float64 LR, Momentum, WeightDecay, uint8 Nesterov,
//	       uint64 steps, tensors (velocity), CRC-32
//
// where tensors is a uint32 count then, per tensor, a uint32 length and the
// float32 bits, and the CRC-32 (IEEE) covers everything before it.
const (
	modelMagic = "ADNNMOD1"
	sgdMagic   = "ADNNSGD1"
)

func appendTensors(b []byte, ts [][]float32) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ts)))
	for _, t := range ts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t)))
		for _, v := range t {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

// reader decodes the state formats, remembering the first error.
type reader struct {
	what string
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("nn: %s state: "+format, append([]any{r.what}, args...)...)
	}
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.fail("truncated at byte %d reading %s: need %d bytes, have %d", r.off, field, n, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u32(field string) uint32 {
	if p := r.take(4, field); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *reader) f64(field string) float64 {
	if p := r.take(8, field); p != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(p))
	}
	return 0
}

// open checks the magic and the checksum and strips the checksum.
func (r *reader) open(magic string) {
	if len(r.b) < len(magic)+4 {
		r.fail("%d bytes is too short to be valid", len(r.b))
		return
	}
	if string(r.b[:len(magic)]) != magic {
		r.fail("bad magic %q; want %q", r.b[:len(magic)], magic)
		return
	}
	body := r.b[:len(r.b)-4]
	want := binary.LittleEndian.Uint32(r.b[len(r.b)-4:])
	if got := crc32.ChecksumIEEE(body); got != want {
		r.fail("checksum mismatch (stored %08x, computed %08x): the data is corrupt or truncated", want, got)
		return
	}
	r.b = body
	r.off = len(magic)
}

// tensorsInto reads tensors into dst, which must have the same count and
// lengths. It decodes everything before writing, so dst is unchanged on error.
func (r *reader) tensorsInto(dst [][]float32) {
	n := int(r.u32("tensor count"))
	if r.err != nil {
		return
	}
	if n != len(dst) {
		r.fail("has %d tensors; want %d", n, len(dst))
		return
	}
	start := r.off
	for i := range dst {
		l := int(r.u32(fmt.Sprintf("length of tensor %d", i)))
		if r.err == nil && l != len(dst[i]) {
			r.fail("tensor %d has %d values; want %d", i, l, len(dst[i]))
		}
		r.take(4*l, fmt.Sprintf("tensor %d", i))
	}
	if r.err != nil {
		return
	}
	if r.off != len(r.b) {
		r.fail("%d unexpected bytes after the tensors", len(r.b)-r.off)
		return
	}
	off := start
	for _, t := range dst {
		off += 4
		for j := range t {
			t[j] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[off:]))
			off += 4
		}
	}
}

func seal(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// MarshalBinary encodes the architecture and the parameters (not the
// gradients nor buffers).
func (m *Model) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(m.arch)+4*m.NumParams()+8*len(m.params))
	b = append(b, modelMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.arch)))
	b = append(b, m.arch...)
	b = appendTensors(b, m.params)
	return seal(b), nil
}

// UnmarshalBinary restores parameters encoded by MarshalBinary. On a zero
// Model it first builds the encoded architecture; on an existing model the
// architecture must match. On error the model is unchanged.
func (m *Model) UnmarshalBinary(data []byte) error {
	r := &reader{what: "model", b: data}
	r.open(modelMagic)
	n := int(r.u32("architecture length"))
	arch := string(r.take(n, "architecture"))
	if r.err != nil {
		return r.err
	}
	target := m
	if m.arch == "" {
		nm, err := NewModel(arch, 0)
		if err != nil {
			return fmt.Errorf("nn: model state: %w", err)
		}
		target = nm
	} else if arch != m.arch {
		return fmt.Errorf("nn: model state is for architecture %q; this model is %q", arch, m.arch)
	}
	r.tensorsInto(target.params)
	if r.err != nil {
		return r.err
	}
	if target != m {
		*m = *target
	}
	return nil
}

// MarshalBinary encodes the hyper-parameters (including the current LR),
// the step count and the velocity.
func (o *SGD) MarshalBinary() ([]byte, error) {
	n := 0
	for _, v := range o.vel {
		n += 4 + 4*len(v)
	}
	b := make([]byte, 0, 64+n)
	b = append(b, sgdMagic...)
	for _, f := range []float64{o.cfg.LR, o.cfg.Momentum, o.cfg.WeightDecay} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	nest := byte(0)
	if o.cfg.Nesterov {
		nest = 1
	}
	b = append(b, nest)
	b = binary.LittleEndian.AppendUint64(b, o.steps)
	b = appendTensors(b, o.vel)
	return seal(b), nil
}

// UnmarshalBinary restores state encoded by MarshalBinary into an optimizer
// created by NewSGD for a model of the same architecture: it replaces the
// hyper-parameters, the step count and the velocity. On error o is unchanged.
func (o *SGD) UnmarshalBinary(data []byte) error {
	r := &reader{what: "SGD", b: data}
	r.open(sgdMagic)
	var c SGDConfig
	c.LR = r.f64("learning rate")
	c.Momentum = r.f64("momentum")
	c.WeightDecay = r.f64("weight decay")
	if p := r.take(1, "nesterov flag"); p != nil {
		if p[0] > 1 {
			r.fail("nesterov flag is %d; want 0 or 1", p[0])
		}
		c.Nesterov = p[0] == 1
	}
	var steps uint64
	if p := r.take(8, "step count"); p != nil {
		steps = binary.LittleEndian.Uint64(p)
	}
	if r.err != nil {
		return r.err
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("nn: SGD state: %w", err)
	}
	tmp := make([][]float32, len(o.vel))
	for i, v := range o.vel {
		tmp[i] = make([]float32, len(v))
	}
	r.tensorsInto(tmp)
	if r.err != nil {
		return r.err
	}
	o.cfg, o.steps = c, steps
	for i := range tmp {
		copy(o.vel[i], tmp[i])
	}
	return nil
}

// WriteFileAtomic writes data to path atomically: to a temporary file in
// the same directory, synced, then renamed over path, so a reader (or a
// crash) sees the old file or the new one, never a partial one.
func WriteFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// Save writes the model state to path atomically.
func (m *Model) Save(path string) error {
	b, _ := m.MarshalBinary()
	return WriteFileAtomic(path, b)
}

// LoadModel reads a model saved by Save, building its architecture.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := new(Model)
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Save writes the optimizer state to path atomically.
func (o *SGD) Save(path string) error {
	b, _ := o.MarshalBinary()
	return WriteFileAtomic(path, b)
}

// Load restores the optimizer state from a file written by Save.
func (o *SGD) Load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := o.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
