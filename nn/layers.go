package nn

import "math"

// shape is the per-sample shape of an activation, stored height×width×
// channels (NHWC without N); a flat vector is 1×1×c.
type shape struct{ h, w, c int }

func (s shape) size() int { return s.h * s.w * s.c }

// layer is one stage of a Model. Activations are batches of n samples,
// each sample contiguous.
type layer interface {
	// outShape is the per-sample output shape.
	outShape() shape
	// forward computes y from x for n samples.
	forward(x, y []float32, n int)
	// backward computes the parameter gradients (overwriting them) and, if
	// dx is not nil, the input gradient, from x, y and dy.
	backward(x, y, dy, dx []float32, n int)
	// tensors returns the parameter and gradient tensors (possibly none).
	tensors() (params, grads [][]float32)
	// reserve makes room for batches of up to n samples.
	reserve(n int)
}

// dense is a fully connected layer y = x Wᵀ + b with W stored [out][in], as
// in PyTorch's nn.Linear.
type dense struct {
	in, out int
	w, b    []float32
	dw, db  []float32
}

func newDense(in, out int) *dense {
	return &dense{in: in, out: out,
		w: make([]float32, in*out), b: make([]float32, out),
		dw: make([]float32, in*out), db: make([]float32, out)}
}

func (l *dense) outShape() shape { return shape{1, 1, l.out} }
func (l *dense) reserve(int)     {}
func (l *dense) tensors() (p, g [][]float32) {
	return [][]float32{l.w, l.b}, [][]float32{l.dw, l.db}
}

func (l *dense) forward(x, y []float32, n int) {
	sgemm(false, true, n, l.out, l.in, 1, x, l.in, l.w, l.in, 0, y, l.out)
	addBias(y[:n*l.out], l.b)
}

func (l *dense) backward(x, y, dy, dx []float32, n int) {
	sgemm(true, false, l.out, l.in, n, 1, dy, l.out, x, l.in, 0, l.dw, l.in)
	colSums(l.db, dy[:n*l.out])
	if dx != nil {
		sgemm(false, false, n, l.in, l.out, 1, dy, l.out, l.w, l.in, 0, dx, l.in)
	}
}

// addBias adds b to every row of y (rows of len(b)).
func addBias(y, b []float32) {
	for r := 0; r+len(b) <= len(y); r += len(b) {
		row := y[r : r+len(b)]
		for j, v := range b {
			row[j] += v
		}
	}
}

// colSums sets s[j] to the sum over rows of column j of d (rows of len(s)),
// summing in row order.
func colSums(s, d []float32) {
	clear(s)
	for r := 0; r+len(s) <= len(d); r += len(s) {
		row := d[r : r+len(s)]
		for j, v := range row {
			s[j] += v
		}
	}
}

// relu is the elementwise max(x, 0).
type relu struct{ s shape }

func (l *relu) outShape() shape             { return l.s }
func (l *relu) reserve(int)                 {}
func (l *relu) tensors() (p, g [][]float32) { return nil, nil }
func (l *relu) forward(x, y []float32, n int) {
	x = x[:n*l.s.size()]
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

func (l *relu) backward(x, y, dy, dx []float32, n int) {
	if dx == nil {
		return
	}
	y = y[:n*l.s.size()]
	dy = dy[:len(y)]
	dx = dx[:len(y)]
	// Branch-free: a data-dependent branch here mispredicts about half the
	// time. keep is all ones where y > 0 and zero elsewhere.
	for i, v := range y {
		var keep uint32
		if v > 0 {
			keep = 1
		}
		dx[i] = math.Float32frombits(math.Float32bits(dy[i]) & -keep)
	}
}

// conv is a 2-D convolution with square k×k kernels, stride 1 and no
// padding, computed as a matrix product over image patches (im2col). W is
// stored [out][ky][kx][in] to match the NHWC activations.
//
// The batch is processed in chunks of a few samples whose patches fit in
// the CPU cache, so each chunk's patches are built and multiplied while
// they are still cached; chunks run in parallel. The weight gradient is
// summed per chunk and then over chunks in order, so results do not depend
// on the number of CPUs.
type conv struct {
	in, out, k int
	is, os     shape
	w, b       []float32
	dw, db     []float32
	chunk      int       // samples per chunk
	cols       []float32 // patches: n*oh*ow rows of k*k*in
	dcol       []float32 // patch gradients, per chunk transposed (k*k*in rows)
	dwPart     []float32 // per chunk, its part of dw, transposed (k*k*in × out)
	dbPart     []float32 // per chunk, its part of db
	dwT        []float32 // the sum of dwPart before transposing into dw
	fwd        convJob
	bwd        convJob
}

// convChunkBytes is the target size of one chunk's patches: well inside a
// typical 512 KiB–1 MiB L2 cache, with room for the gemm's packed panels.
const convChunkBytes = 256 << 10

// convJob runs one direction of a conv over a range of chunks.
type convJob struct {
	l        *conv
	backward bool
	x, y, dx []float32 // forward: x, y; backward: y holds dy, dx may be nil
	n        int
}

func (j *convJob) run(lo, hi int) {
	for c := lo; c < hi; c++ {
		if j.backward {
			j.l.backwardChunk(j.y, j.dx, j.n, c)
		} else {
			j.l.forwardChunk(j.x, j.y, j.n, c)
		}
	}
}

func newConv(is shape, out, k int) *conv {
	kk := k * k * is.c
	l := &conv{in: is.c, out: out, k: k, is: is,
		os: shape{is.h - k + 1, is.w - k + 1, out},
		w:  make([]float32, out*kk), b: make([]float32, out),
		dw: make([]float32, out*kk), db: make([]float32, out)}
	l.chunk = max(1, convChunkBytes/(4*l.os.h*l.os.w*kk))
	l.fwd = convJob{l: l}
	l.bwd = convJob{l: l, backward: true}
	return l
}

func (l *conv) outShape() shape { return l.os }
func (l *conv) tensors() (p, g [][]float32) {
	return [][]float32{l.w, l.b}, [][]float32{l.dw, l.db}
}

func (l *conv) chunks(n int) int { return (n + l.chunk - 1) / l.chunk }

func (l *conv) reserve(n int) {
	kk := l.k * l.k * l.in
	sz := n * l.os.h * l.os.w * kk
	if len(l.cols) < sz {
		l.cols = make([]float32, sz)
		l.dcol = make([]float32, sz)
	}
	if c := l.chunks(n); len(l.dbPart) < c*l.out {
		l.dwPart = make([]float32, c*l.out*kk)
		l.dbPart = make([]float32, c*l.out)
		l.dwT = make([]float32, l.out*kk)
	}
}

func (l *conv) forward(x, y []float32, n int) {
	l.reserve(n)
	l.fwd.x, l.fwd.y, l.fwd.n = x, y, n
	parallelFor(l.chunks(n), &l.fwd)
	l.fwd.x, l.fwd.y = nil, nil
}

// forwardChunk builds the patches of chunk c and multiplies them by the
// weights.
func (l *conv) forwardChunk(x, y []float32, n, c int) {
	s0, s1 := c*l.chunk, min((c+1)*l.chunk, n)
	l.im2col(x, s0, s1)
	kk := l.k * l.k * l.in
	r0, rows := s0*l.os.h*l.os.w, (s1-s0)*l.os.h*l.os.w
	sgemm(false, true, rows, l.out, kk, 1, l.cols[r0*kk:], kk, l.w, kk, 0, y[r0*l.out:], l.out)
	addBias(y[r0*l.out:(r0+rows)*l.out], l.b)
}

func (l *conv) backward(x, y, dy, dx []float32, n int) {
	l.bwd.y, l.bwd.dx, l.bwd.n = dy, dx, n
	nc := l.chunks(n)
	parallelFor(nc, &l.bwd)
	l.bwd.y, l.bwd.dx = nil, nil
	kk := l.k * l.k * l.in
	copy(l.dwT, l.dwPart[:l.out*kk])
	copy(l.db, l.dbPart[:l.out])
	for c := 1; c < nc; c++ {
		for i, v := range l.dwPart[c*l.out*kk : (c+1)*l.out*kk] {
			l.dwT[i] += v
		}
		for i, v := range l.dbPart[c*l.out : (c+1)*l.out] {
			l.db[i] += v
		}
	}
	transpose(l.dw, l.dwT, kk, l.out, l.out)
}

// backwardChunk computes chunk c's part of the weight and bias gradients
// and, if dx is not nil, its input gradient. The patches from forward are
// still in cols. Both products are computed transposed (dWᵀ = colsᵀ·dy and
// dcolᵀ = Wᵀ·dyᵀ): with few output channels these shapes suit the gemm
// kernel's tiles, measured about twice as fast as the direct forms.
func (l *conv) backwardChunk(dy, dx []float32, n, c int) {
	s0, s1 := c*l.chunk, min((c+1)*l.chunk, n)
	kk := l.k * l.k * l.in
	r0, rows := s0*l.os.h*l.os.w, (s1-s0)*l.os.h*l.os.w
	dyc := dy[r0*l.out : (r0+rows)*l.out]
	sgemm(true, false, kk, l.out, rows, 1, l.cols[r0*kk:], kk, dyc, l.out, 0, l.dwPart[c*l.out*kk:], l.out)
	colSums(l.dbPart[c*l.out:(c+1)*l.out], dyc)
	if dx != nil {
		// dcolᵀ for this chunk: kk rows of `rows` values.
		sgemm(true, true, kk, rows, l.out, 1, l.w, kk, dyc, l.out, 0, l.dcol[r0*kk:], rows)
		l.col2imT(dx, l.dcol[r0*kk:r0*kk+rows*kk], s0, s1)
	}
}

// im2col copies, for each output position of samples [lo,hi), the k×k×in
// patch under it into one row of cols. Each kernel row (k*in floats) is
// contiguous in NHWC, so a patch is k copies.
func (l *conv) im2col(x []float32, lo, hi int) {
	run := l.k * l.in
	kk := l.k * run
	rowStride := l.is.w * l.in
	r := lo * l.os.h * l.os.w
	for s := lo; s < hi; s++ {
		img := x[s*l.is.size():]
		for oy := range l.os.h {
			for ox := range l.os.w {
				dst := l.cols[r*kk : (r+1)*kk]
				base := oy*rowStride + ox*l.in
				switch run {
				case 5: // LeNet's first conv: 5×5 kernel, 1 channel
					for ky := range l.k {
						*(*[5]float32)(dst[ky*5:]) = *(*[5]float32)(img[base+ky*rowStride:])
					}
				default:
					for ky := range l.k {
						copy(dst[ky*run:(ky+1)*run], img[base+ky*rowStride:])
					}
				}
				r++
			}
		}
	}
}

// col2imT sets dx of samples [lo,hi) to the sum of their patch gradients
// (the adjoint of im2col), reading them transposed: dcolT holds, for each
// patch element (ky, kx, channel), one value per output position of the
// samples.
func (l *conv) col2imT(dx, dcolT []float32, lo, hi int) {
	clear(dx[lo*l.is.size() : hi*l.is.size()])
	P := l.os.h * l.os.w
	rows := (hi - lo) * P
	in, ow := l.in, l.os.w
	rowStride := l.is.w * in
	for s := lo; s < hi; s++ {
		img := dx[s*l.is.size() : (s+1)*l.is.size()]
		for ky := range l.k {
			for kx := range l.k {
				for ch := range in {
					e := (ky*l.k+kx)*in + ch
					src := dcolT[e*rows+(s-lo)*P:][:P]
					for oy := range l.os.h {
						d := img[(oy+ky)*rowStride+kx*in+ch:]
						row := src[oy*ow : (oy+1)*ow]
						for ox, v := range row {
							d[ox*in] += v
						}
					}
				}
			}
		}
	}
}

// maxPool is 2×2 max pooling with stride 2 (odd trailing rows or columns are
// dropped, as in PyTorch's default).
type maxPool struct {
	is, os shape
	arg    []int32 // per output element, the index of the max within the sample
	fwdJob layerJob
	bwdJob layerJob
}

func newMaxPool(is shape) *maxPool {
	l := &maxPool{is: is, os: shape{is.h / 2, is.w / 2, is.c}}
	l.fwdJob.fn = l.forwardRange
	l.bwdJob.fn = l.backwardRange
	return l
}

func (l *maxPool) outShape() shape             { return l.os }
func (l *maxPool) tensors() (p, g [][]float32) { return nil, nil }
func (l *maxPool) reserve(n int) {
	if len(l.arg) < n*l.os.size() {
		l.arg = make([]int32, n*l.os.size())
	}
}

func (l *maxPool) forward(x, y []float32, n int) {
	l.reserve(n)
	l.fwdJob.over(n, x, y)
}

// forwardRange pools samples [lo,hi).
func (l *maxPool) forwardRange(x, y []float32, lo, hi int) {
	c, iw := l.is.c, l.is.w
	for s := lo; s < hi; s++ {
		xs := x[s*l.is.size() : (s+1)*l.is.size()]
		ys := y[s*l.os.size() : (s+1)*l.os.size()]
		as := l.arg[s*l.os.size() : (s+1)*l.os.size()]
		o := 0
		for oy := range l.os.h {
			for ox := range l.os.w {
				i00 := ((2*oy)*iw + 2*ox) * c
				i01 := i00 + c
				i10 := i00 + iw*c
				i11 := i10 + c
				// Written so that the compiler can use conditional moves:
				// the comparisons are data-dependent and would mispredict.
				// On ties the earliest position wins.
				for ch := range c {
					v0, v1, v2, v3 := xs[i00+ch], xs[i01+ch], xs[i10+ch], xs[i11+ch]
					a, ia := v0, i00+ch
					if v1 > v0 {
						ia = i01 + ch
					}
					a = max(a, v1)
					b, ib := v2, i10+ch
					if v3 > v2 {
						ib = i11 + ch
					}
					b = max(b, v3)
					if b > a {
						ia = ib
					}
					ys[o] = max(a, b)
					as[o] = int32(ia)
					o++
				}
			}
		}
	}
}

func (l *maxPool) backward(x, y, dy, dx []float32, n int) {
	if dx == nil {
		return
	}
	l.bwdJob.over(n, dy, dx)
}

// backwardRange routes dy of samples [lo,hi) to the max positions of dx.
func (l *maxPool) backwardRange(dy, dx []float32, lo, hi int) {
	clear(dx[lo*l.is.size() : hi*l.is.size()])
	for s := lo; s < hi; s++ {
		dxs := dx[s*l.is.size() : (s+1)*l.is.size()]
		dys := dy[s*l.os.size() : (s+1)*l.os.size()]
		for o, a := range l.arg[s*l.os.size() : (s+1)*l.os.size()] {
			dxs[a] += dys[o]
		}
	}
}
