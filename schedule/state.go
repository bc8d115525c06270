package schedule

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The state of a schedule is a small binary record:
//
//	magic "ADLRS" | version byte | kind string | config string | body
//
// Strings and byte slices are a uvarint length then the bytes; integers are
// varints; floats are their IEEE-754 bits as 8 little-endian bytes, so a
// round trip is exact. The config string describes the constructor
// arguments; restoring into a schedule built with different arguments is
// an error.

const stateMagic = "ADLRS"

const stateVersion = 1

type encoder struct{ buf []byte }

func (e *encoder) int(v int) { e.buf = binary.AppendVarint(e.buf, int64(v)) }
func (e *encoder) f64(v float64) {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
}
func (e *encoder) bytes(b []byte) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, b...)
}
func (e *encoder) str(s string) { e.bytes([]byte(s)) }
func (e *encoder) f64s(v []float64) {
	e.int(len(v))
	for _, x := range v {
		e.f64(x)
	}
}

func (e *encoder) bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// decoder reads what encoder wrote. The first error sticks; reads after it
// return zero values.
type decoder struct {
	buf []byte
	err error
}

var errTruncated = errors.New("truncated state")

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) int() int {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 || v != int64(int(v)) {
		d.fail(errTruncated)
		return 0
	}
	d.buf = d.buf[n:]
	return int(v)
}

func (d *decoder) f64() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 8 {
		d.fail(errTruncated)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.buf))
	d.buf = d.buf[8:]
	return v
}

func (d *decoder) bytes() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.buf)
	if k <= 0 || n > uint64(len(d.buf)-k) {
		d.fail(errTruncated)
		return nil
	}
	b := append([]byte(nil), d.buf[k:k+int(n)]...)
	d.buf = d.buf[k+int(n):]
	return b
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.buf) < 1 || d.buf[0] > 1 {
		d.fail(errTruncated)
		return false
	}
	v := d.buf[0] == 1
	d.buf = d.buf[1:]
	return v
}

// f64s reads a float slice that must have length want.
func (d *decoder) f64s(want int) []float64 {
	n := d.int()
	if d.err != nil {
		return nil
	}
	if n != want {
		d.fail(fmt.Errorf("state holds %d values, want %d", n, want))
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = d.f64()
	}
	return v
}

// marshalState writes the header and the body of a schedule's state.
func marshalState(kind, config string, body func(*encoder)) ([]byte, error) {
	e := &encoder{buf: append([]byte(stateMagic), stateVersion)}
	e.str(kind)
	e.str(config)
	body(e)
	return e.buf, nil
}

// unmarshalState checks the header of data against kind and config, then
// runs body, which reads and validates the rest into local variables and
// returns a function that commits them. The commit runs only if everything
// was read without error and no bytes are left over, so a failed
// UnmarshalBinary changes nothing.
func unmarshalState(data []byte, kind, config string, body func(*decoder) (commit func(), err error)) error {
	wrap := func(err error) error { return fmt.Errorf("schedule: %s: UnmarshalBinary: %w", kind, err) }
	if len(data) < len(stateMagic)+1 || string(data[:len(stateMagic)]) != stateMagic {
		return wrap(errors.New("not a schedule state"))
	}
	if v := data[len(stateMagic)]; v != stateVersion {
		return wrap(fmt.Errorf("state version %d, want %d", v, stateVersion))
	}
	d := &decoder{buf: data[len(stateMagic)+1:]}
	k := d.str()
	c := d.str()
	if d.err != nil {
		return wrap(d.err)
	}
	if k != kind {
		return wrap(fmt.Errorf("state is for a %q schedule", k))
	}
	if c != config {
		return wrap(fmt.Errorf("state was saved by a schedule with other arguments: saved %s, this schedule has %s", c, config))
	}
	commit, err := body(d)
	if err == nil {
		err = d.err
	}
	if err == nil && len(d.buf) != 0 {
		err = fmt.Errorf("%d unexpected bytes after the state", len(d.buf))
	}
	if err != nil {
		return wrap(err)
	}
	commit()
	return nil
}

// checkLRState validates restored learning rates.
func checkLRState(lrs []float64) error {
	for i, lr := range lrs {
		if math.IsNaN(lr) {
			return fmt.Errorf("lr[%d] is NaN", i)
		}
	}
	return nil
}

// checkEpoch validates a restored step counter.
func checkEpoch(epoch int) error {
	if epoch < 0 {
		return fmt.Errorf("step count %d < 0", epoch)
	}
	return nil
}
