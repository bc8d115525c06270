package autodrop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"unsafe"
)

// The checkpoint format, all little-endian:
//
//	magic "ADRP", version u16, element size u8 (4 or 8)
//	config: LR, DropFactor, Theta, MaxTheta, MinLR, Epsilon f64;
//	        Patience, Window i64; flags u8 (1 AutoTheta, 2 TailAverage)
//	state:  epoch i64, lr f64, theta f64, armed u8, left i64,
//	        nAngles i64, then min(nAngles, Window+1) angles f64, oldest first
//	layout: tensors u64, then each length u64 (only when epoch >= 1)
//	buffers: newest observation (epoch >= 1), the one before (epoch >= 2),
//	         as elements of the element size; tail sum f64 when a drop with
//	         tail averaging is pending
//	crc32-C u32 of everything before it
const (
	stateMagic   = "ADRP"
	stateVersion = 1
)

// ErrState is wrapped by every error of UnmarshalBinary.
var ErrState = errors.New("autodrop: invalid state")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tailPending reports whether the tail buffer holds a running sum.
func (s *Scheduler[T]) tailPending() bool {
	return s.armed && s.cfg.TailAverage && s.cfg.Patience > 0
}

// MarshalBinary implements encoding.BinaryMarshaler. The result holds the
// configuration (without OnRecord and Logger), the decision state and the
// parameter buffers, with a version and a checksum.
func (s *Scheduler[T]) MarshalBinary() ([]byte, error) {
	if s.angles == nil {
		return nil, errNotCreated
	}
	es := s.elemSize()
	n := 0
	if s.sizes != nil {
		n = s.off[len(s.sizes)]
	}
	size := 4 + 2 + 1 + 6*8 + 2*8 + 1 + 8 + 8 + 8 + 1 + 8 + 8 + 8*len(s.angles) + 8 + 8*len(s.sizes) + 2*n*es + 8*n + 4
	b := make([]byte, 0, size)
	b = append(b, stateMagic...)
	b = binary.LittleEndian.AppendUint16(b, stateVersion)
	b = append(b, byte(es))
	c := s.cfg
	for _, v := range []float64{c.LR, c.DropFactor, c.Theta, c.MaxTheta, c.MinLR, c.Epsilon} {
		b = appendF64(b, v)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Patience))
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Window))
	var flags byte
	if c.AutoTheta {
		flags |= 1
	}
	if c.TailAverage {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.epoch))
	b = appendF64(b, s.lr)
	b = appendF64(b, s.theta)
	b = append(b, boolByte(s.armed))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.left))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.nAngles))
	kept := min(s.nAngles, len(s.angles))
	for i := s.nAngles - kept; i < s.nAngles; i++ {
		b = appendF64(b, s.angles[i%len(s.angles)])
	}
	if s.epoch >= 1 {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(s.sizes)))
		for _, l := range s.sizes {
			b = binary.LittleEndian.AppendUint64(b, uint64(l))
		}
		b = appendElems(b, s.buf[s.cur])
		if s.epoch >= 2 {
			b = appendElems(b, s.buf[1-s.cur])
		}
		if s.tailPending() {
			b = appendElems(b, s.tail)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendF64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendElems appends v as little-endian values of its element size. On
// little-endian machines this is one memory copy.
func appendElems[T Float](b []byte, v []T) []byte {
	es := int(sizeofElem(v))
	start := len(b)
	b = slices.Grow(b, es*len(v))[:start+es*len(v)]
	dst := b[start:]
	if littleEndian && len(v) > 0 {
		copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), es*len(v)))
		return b
	}
	for i, x := range v {
		if es == 4 {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(float32(x)))
		} else {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(x)))
		}
	}
	return b
}

// littleEndian reports the byte order of this machine.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// reader decodes a checkpoint, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrState}, args...)...)
	}
}

func (r *reader) next(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("truncated: %s needs %d bytes at offset %d, %d left", what, n, r.off, len(r.b)-r.off)
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(what string) byte {
	if p := r.next(1, what); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if p := r.next(8, what); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

// int reads a u64 that must be in [0, limit].
func (r *reader) int(what string, limit int) int {
	v := r.u64(what)
	if r.err == nil && v > uint64(limit) {
		r.fail("%s = %d is out of range [0, %d]", what, v, limit)
		return 0
	}
	return int(v)
}

func (r *reader) f64(what string) float64 { return math.Float64frombits(r.u64(what)) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it restores a state
// written by MarshalBinary, including the configuration. The receiver may be
// a zero Scheduler; its OnRecord and Logger, if any, are kept. Truncated,
// corrupted or wrong-version input, or a state for another element type, is
// rejected with an error wrapping ErrState and the receiver is unchanged.
func (s *Scheduler[T]) UnmarshalBinary(data []byte) error {
	if len(data) < 4+2+1+4 {
		return fmt.Errorf("%w: truncated: %d bytes", ErrState, len(data))
	}
	if string(data[:4]) != stateMagic {
		return fmt.Errorf("%w: bad magic %q, want %q", ErrState, data[:4], stateMagic)
	}
	if v := binary.LittleEndian.Uint16(data[4:]); v != stateVersion {
		return fmt.Errorf("%w: version %d, this package reads version %d", ErrState, v, stateVersion)
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(data)-4:]); got != want {
		return fmt.Errorf("%w: checksum mismatch (%08x, stored %08x): corrupted or truncated", ErrState, got, want)
	}
	es := s.elemSize()
	if int(data[6]) != es {
		return fmt.Errorf("%w: state holds %d-byte elements, this scheduler %d-byte", ErrState, data[6], es)
	}
	r := &reader{b: body, off: 7}
	var c Config
	c.LR = r.f64("LR")
	c.DropFactor = r.f64("DropFactor")
	c.Theta = r.f64("Theta")
	c.MaxTheta = r.f64("MaxTheta")
	c.MinLR = r.f64("MinLR")
	c.Epsilon = r.f64("Epsilon")
	c.Patience = r.int("Patience", MaxPatience)
	c.Window = r.int("Window", MaxWindow)
	flags := r.u8("flags")
	c.AutoTheta, c.TailAverage = flags&1 != 0, flags&2 != 0
	if r.err == nil {
		if flags&^3 != 0 {
			r.fail("unknown flags %#x", flags)
		} else if err := c.Validate(); err != nil {
			r.fail("stored config: %v", err)
		} else if c.Window == 0 || c.Epsilon == 0 {
			r.fail("stored config lacks defaults (window %d, epsilon %v)", c.Window, c.Epsilon)
		}
	}
	n := &Scheduler[T]{cfg: c}
	n.cfg.OnRecord, n.cfg.Logger = s.cfg.OnRecord, s.cfg.Logger
	n.epoch = r.int("epoch", math.MaxInt32)
	n.lr = r.f64("lr")
	n.theta = r.f64("theta")
	armed := r.u8("armed")
	n.armed = armed == 1
	n.left = r.int("left", MaxPatience)
	n.nAngles = r.int("angle count", math.MaxInt32)
	if r.err == nil {
		switch {
		case armed > 1:
			r.fail("armed byte %d", armed)
		case !isFinite(n.lr) || n.lr <= 0 || n.lr > c.LR || n.lr < c.MinLR:
			r.fail("lr %v outside (0, %v] or below min lr %v", n.lr, c.LR, c.MinLR)
		case !isFinite(n.theta) || n.theta < 0:
			r.fail("theta %v", n.theta)
		case n.armed && (n.left < 1 || n.left > c.Patience):
			r.fail("armed with %d observations left, patience %d", n.left, c.Patience)
		case !n.armed && n.left != 0:
			r.fail("not armed but %d observations left", n.left)
		case n.nAngles != max(0, n.epoch-2):
			r.fail("%d angles after %d observations", n.nAngles, n.epoch)
		}
	}
	n.angles = make([]float64, c.Window+1)
	kept := min(n.nAngles, len(n.angles))
	for i := n.nAngles - kept; i < n.nAngles && r.err == nil; i++ {
		v := r.f64("angle")
		if !(v >= 0 && v <= 180) {
			r.fail("angle %v outside [0, 180]", v)
		}
		n.angles[i%len(n.angles)] = v
	}
	if n.epoch >= 1 && r.err == nil {
		// Every tensor length needs 8 bytes, every value at least es: bound
		// the sizes by what is left before allocating.
		left := len(body) - r.off
		nt := r.int("tensor count", left/8)
		sizes := make([]int, 0, nt)
		total := 0
		for i := 0; i < nt && r.err == nil; i++ {
			l := r.int("tensor length", left)
			total += l
			sizes = append(sizes, l)
		}
		if r.err == nil && total == 0 {
			r.fail("no parameter values")
		}
		bufs := 1
		if n.epoch >= 2 {
			bufs = 2
		}
		if r.err == nil && total > (len(body)-r.off)/(es*bufs) {
			r.fail("truncated: %d values need %d bytes, %d left", total, total*es*bufs, len(body)-r.off)
		}
		if r.err == nil {
			n.allocate(sizesAsParams[T](sizes))
			readElems(r, n.buf[0])
			if n.epoch >= 2 {
				readElems(r, n.buf[1])
			}
			n.cur = 0
			if n.tailPending() {
				n.tail = staggered[float64](total, 3)
				readElems(r, n.tail)
			}
			for _, v := range n.buf[0] {
				if !isFinite(float64(v)) {
					r.fail("non-finite value in the parameter buffers")
					break
				}
			}
		}
	}
	if r.err == nil && r.off != len(body) {
		r.fail("%d unexpected bytes after the state", len(body)-r.off)
	}
	if r.err != nil {
		return r.err
	}
	*s = *n
	return nil
}

// sizesAsParams returns zero-capacity stand-ins with the given lengths, for
// allocate.
func sizesAsParams[T Float](sizes []int) [][]T {
	p := make([][]T, len(sizes))
	for i, l := range sizes {
		p[i] = make([]T, l)
	}
	return p
}

func readElems[T Float](r *reader, dst []T) {
	es := int(sizeofElem(dst))
	p := r.next(len(dst)*es, "parameter buffer")
	if p == nil || len(dst) == 0 {
		return
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), es*len(dst)), p)
		return
	}
	for i := range dst {
		if es == 4 {
			dst[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:])))
		} else {
			dst[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:])))
		}
	}
}
