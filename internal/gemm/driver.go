package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Micro-tile and cache-block sizes. The micro-kernel computes an mr×nr tile
// of C; a packed kc×nr sliver of B (16 KiB) stays in L1 while the mc×kc block
// of packed A (144 KiB) stays in L2.
const (
	mr      = 6
	nr      = 16
	kcBlock = 256
	mcBlock = 144
	ncBlock = 4080

	// maxWorkers bounds the number of goroutines one call uses.
	maxWorkers = 16
	// chunksPerWorker is the number of work chunks per goroutine in the
	// dynamic parallel mode; more chunks balance better when a core is
	// busy with other work.
	chunksPerWorker = 4
	// parallelMACs is the minimum problem size (in multiply-adds) for
	// which a call is split between goroutines: about 20µs of single-core
	// work, well above the cost of waking a worker. It also keeps the
	// ~1M-MAC products that package nn already runs on all cores (one conv
	// chunk per goroutine) from spawning nested parallel work.
	parallelMACs = 1 << 20
)

// workspace holds one goroutine's packing buffers.
type workspace struct {
	a, b   []float32
	shared []float32 // whole packed operand (dynamic parallel mode)
	tile   [mr * nr]float32
}

// grow returns s resized to n elements, reallocating only when needed.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// part is the rectangle of C (in problem coordinates) owned by one goroutine.
type part struct {
	m0, m1, n0, n1 int
}

// callCtx is the per-call state handed to worker goroutines.
type callCtx struct {
	p     problem
	parts [maxWorkers]part // static mode: one rectangle per goroutine
	ws    [maxWorkers]workspace
	// done receives one value per finished worker task. (A channel rather
	// than a sync.WaitGroup: in a memory profile WaitGroup.Wait showed
	// several times more runtime allocations when parking.)
	done chan struct{}

	// Dynamic mode: C is cut into nchunks strips of chunk rows (splitM)
	// or columns, claimed in order through next.
	dynamic bool
	splitM  bool
	chunk   int
	nchunks int
	next    atomic.Int64
}

// maxShared bounds the size (in floats) of the fully packed shared operand
// of the dynamic parallel mode (16 MiB per goroutine); larger problems use
// the static split. Tests lower it to exercise the static parallel mode.
var maxShared = 1 << 22

var (
	ctxMu   sync.Mutex
	ctxFree []*callCtx

	workerMu    sync.Mutex
	workerCount int
	taskCh      = make(chan task, maxWorkers)
)

type task struct {
	ctx *callCtx
	idx int
}

func getCtx() *callCtx {
	ctxMu.Lock()
	defer ctxMu.Unlock()
	if n := len(ctxFree); n > 0 {
		c := ctxFree[n-1]
		ctxFree = ctxFree[:n-1]
		return c
	}
	return &callCtx{done: make(chan struct{}, maxWorkers)}
}

func putCtx(c *callCtx) {
	c.p = problem{}
	ctxMu.Lock()
	ctxFree = append(ctxFree, c)
	ctxMu.Unlock()
}

// ensureWorkers starts background worker goroutines until at least n exist.
// Workers live for the life of the process and only run gemm tasks.
func ensureWorkers(n int) {
	workerMu.Lock()
	for workerCount < n {
		workerCount++
		go func() {
			for t := range taskCh {
				t.ctx.compute(t.idx)
				t.ctx.done <- struct{}{}
			}
		}()
	}
	workerMu.Unlock()
}

// splitBound splits [0, total) into parts chunks whose boundaries are
// multiples of unit, returning the boundary of chunk i.
func splitBound(total, unit, parts, i int) int {
	units := (total + unit - 1) / unit
	b := units * i / parts * unit
	return min(b, total)
}

// run executes a validated problem, in parallel when it is large enough.
//
// Serial calls and very large problems use a static split: goroutine i owns
// a fixed rectangle of C and runs the blocked algorithm on it. Otherwise the
// split dimension is cut into several chunks that goroutines claim
// dynamically, so a goroutine delayed by other load on the machine does not
// hold up the call; each goroutine then packs the whole of the other operand
// once and reuses it for every chunk it claims. Either way every element of
// C is produced by one goroutine with the k-blocking of blockSize(k, ...),
// so the result does not depend on the split.
func run(p *problem) {
	nw := 1
	if work := p.m * p.n * p.k; work >= parallelMACs {
		nw = min(runtime.GOMAXPROCS(0), maxWorkers)
	}
	// Split the larger dimension: every goroutine packs the whole of the
	// other operand, so that keeps the duplicated packing work smallest.
	splitM := p.m >= p.n
	units := (p.n + nr - 1) / nr
	unit := nr
	if splitM {
		units, unit = (p.m+mr-1)/mr, mr
	}
	nw = min(nw, units)
	ctx := getCtx()
	ctx.p = *p
	ctx.splitM = splitM
	kc := blockSize(p.k, kcBlock, 1)
	sharedLen := ((p.m + mr - 1) / mr * mr) * p.k
	if splitM {
		sharedLen = ((p.n + nr - 1) / nr * nr) * p.k
	}
	ctx.dynamic = nw > 1 && sharedLen <= maxShared
	if ctx.dynamic {
		per := (units + chunksPerWorker*nw - 1) / (chunksPerWorker * nw)
		ctx.chunk = per * unit
		total := p.n
		if splitM {
			total = p.m
		}
		ctx.nchunks = (total + ctx.chunk - 1) / ctx.chunk
		ctx.next.Store(0)
		// Size every participant's buffers here so that workers never
		// allocate, whichever chunks they end up claiming.
		for i := 0; i < nw; i++ {
			ws := &ctx.ws[i]
			if splitM {
				if !directB(p) {
					ws.shared = grow(ws.shared, sharedLen)
				}
				ws.a = grow(ws.a, min(ctx.chunk, mcBlock)*kc) // mcBlock is a multiple of mr
			} else {
				if !directA(p) {
					ws.shared = grow(ws.shared, sharedLen)
				}
				ws.b = grow(ws.b, min(ctx.chunk, ncBlock)*kc) // ncBlock is a multiple of nr
			}
		}
	} else {
		for i := 0; i < nw; i++ {
			if splitM {
				ctx.parts[i] = part{splitBound(p.m, mr, nw, i), splitBound(p.m, mr, nw, i+1), 0, p.n}
			} else {
				ctx.parts[i] = part{0, p.m, splitBound(p.n, nr, nw, i), splitBound(p.n, nr, nw, i+1)}
			}
		}
	}
	if nw > 1 {
		ensureWorkers(nw - 1)
		for i := 1; i < nw; i++ {
			taskCh <- task{ctx, i}
		}
	}
	ctx.compute(0)
	for i := 1; i < nw; i++ {
		<-ctx.done
	}
	putCtx(ctx)
}

// directA reports whether op(A) already has the packed layout (a single
// k×6 micro-panel, i.e. A^T with lda == 6) and can be used in place.
func directA(p *problem) bool {
	return p.transA && p.lda == mr && p.m == mr && p.alpha == 1
}

// directB reports whether op(B) already has the packed layout (a single
// k×16 micro-panel with ldb == 16) and can be used in place.
func directB(p *problem) bool {
	return !p.transB && p.ldb == nr && p.n == nr
}

// computeDynamic claims chunks of C until none are left.
func (ctx *callCtx) computeDynamic(idx int) {
	p := &ctx.p
	ws := &ctx.ws[idx]
	kc := blockSize(p.k, kcBlock, 1)
	packed := false
	for {
		ch := int(ctx.next.Add(1) - 1)
		if ch >= ctx.nchunks {
			return
		}
		lo := ch * ctx.chunk
		if ctx.splitM {
			if !packed && !directB(p) {
				// Whole op(B), block pc (kcc rows) at pc*npad.
				npad := (p.n + nr - 1) / nr * nr
				for pc := 0; pc < p.k; pc += kc {
					packB(ws.shared[pc*npad:], p.b, p.ldb, p.transB, pc, min(kc, p.k-pc), 0, p.n)
				}
			}
			packed = true
			ctx.rowChunk(ws, kc, lo, min(lo+ctx.chunk, p.m))
		} else {
			switch {
			case packed || directA(p):
			case inPlaceA(p):
				// Only the partial last panel, block pc at pc*mr.
				for pc := 0; pc < p.k; pc += kc {
					packPartialA(ws.shared[pc*mr:], p, 0, p.m, pc, min(kc, p.k-pc))
				}
			default:
				// Whole op(A), block pc (kcc columns) at pc*mpad.
				mpad := (p.m + mr - 1) / mr * mr
				for pc := 0; pc < p.k; pc += kc {
					packA(ws.shared[pc*mpad:], p.a, p.lda, p.transA, 0, p.m, pc, min(kc, p.k-pc), p.alpha)
				}
			}
			packed = true
			ctx.colChunk(ws, kc, lo, min(lo+ctx.chunk, p.n))
		}
	}
}

// rowChunk computes rows [m0, m1) of C against the fully packed op(B).
func (ctx *callCtx) rowChunk(ws *workspace, kc, m0, m1 int) {
	p := &ctx.p
	npad := (p.n + nr - 1) / nr * nr
	mc := blockSize(m1-m0, mcBlock, mr)
	for ic := m0; ic < m1; ic += mc {
		mcc := min(mc, m1-ic)
		for pc := 0; pc < p.k; pc += kc {
			kcc := min(kc, p.k-pc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			inA := inPlaceA(p)
			if inA {
				packPartialA(ws.a, p, ic, mcc, pc, kcc)
			} else {
				packA(ws.a, p.a, p.lda, p.transA, ic, mcc, pc, kcc, p.alpha)
			}
			var bp []float32
			if directB(p) {
				bp = p.b[pc*nr : (pc+kcc)*nr]
			} else {
				bp = ws.shared[pc*npad : pc*npad+kcc*npad]
			}
			macroKernel(ws, ws.a, bp, p, ic, mcc, 0, p.n, pc, kcc, beta, inA, false)
		}
	}
}

// colChunk computes columns [n0, n1) of C against the fully packed op(A).
func (ctx *callCtx) colChunk(ws *workspace, kc, n0, n1 int) {
	p := &ctx.p
	mpad := (p.m + mr - 1) / mr * mr
	mc := blockSize(p.m, mcBlock, mr)
	nc := blockSize(n1-n0, ncBlock, nr)
	for jc := n0; jc < n1; jc += nc {
		ncc := min(nc, n1-jc)
		for pc := 0; pc < p.k; pc += kc {
			kcc := min(kc, p.k-pc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			inA, inB := inPlaceA(p), inPlaceB(p)
			if inB {
				packPartialB(ws.b, p, pc, kcc, jc, ncc)
			} else {
				packB(ws.b, p.b, p.ldb, p.transB, pc, kcc, jc, ncc)
			}
			for ic := 0; ic < p.m; ic += mc {
				mcc := min(mc, p.m-ic)
				var ap []float32
				switch {
				case directA(p):
					ap = p.a[pc*mr : (pc+kcc)*mr]
				case inA:
					ap = ws.shared[pc*mr : pc*mr+mr*kcc] // partial panel only
				default:
					ap = ws.shared[pc*mpad+ic*kcc : pc*mpad+kcc*mpad]
				}
				macroKernel(ws, ap, ws.b, p, ic, mcc, jc, ncc, pc, kcc, beta, inA, inB)
			}
		}
	}
}

// blockSize splits total into the fewest blocks of at most limit elements,
// balancing their sizes, and returns the block size rounded up to unit.
func blockSize(total, limit, unit int) int {
	nb := (total + limit - 1) / limit
	bs := (total + nb - 1) / nb
	return (bs + unit - 1) / unit * unit
}

// compute runs the blocked algorithm on the part of C owned by worker idx.
// The k blocking depends only on p.k, so every element of C sees the same
// summation order however the work is divided.
func (ctx *callCtx) compute(idx int) {
	if ctx.dynamic {
		ctx.computeDynamic(idx)
		return
	}
	p := &ctx.p
	pt := ctx.parts[idx]
	ws := &ctx.ws[idx]
	if pt.m0 >= pt.m1 || pt.n0 >= pt.n1 {
		return
	}
	kc := blockSize(p.k, kcBlock, 1)
	mc := blockSize(pt.m1-pt.m0, mcBlock, mr)
	nc := blockSize(pt.n1-pt.n0, ncBlock, nr)
	// When the source already has the packed layout (a single micro-panel
	// with matching stride, e.g. a k×16 B or a k×6 A^T), the kernel reads
	// it in place instead of copying it.
	directA, directB := directA(p), directB(p)
	inA, inB := inPlaceA(p), inPlaceB(p)
	if !directA {
		ws.a = grow(ws.a, mc*kc)
	}
	if !directB {
		ws.b = grow(ws.b, nc*kc)
	}
	for jc := pt.n0; jc < pt.n1; jc += nc {
		ncc := min(nc, pt.n1-jc)
		for pc := 0; pc < p.k; pc += kc {
			kcc := min(kc, p.k-pc)
			bp := ws.b
			switch {
			case directB:
				bp = p.b[pc*nr : (pc+kcc)*nr]
			case inB:
				packPartialB(bp, p, pc, kcc, jc, ncc)
			default:
				packB(bp, p.b, p.ldb, p.transB, pc, kcc, jc, ncc)
			}
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			for ic := pt.m0; ic < pt.m1; ic += mc {
				mcc := min(mc, pt.m1-ic)
				ap := ws.a
				switch {
				case directA:
					ap = p.a[pc*mr : (pc+kcc)*mr]
				case inA:
					packPartialA(ap, p, ic, mcc, pc, kcc)
				default:
					packA(ap, p.a, p.lda, p.transA, ic, mcc, pc, kcc, p.alpha)
				}
				macroKernel(ws, ap, bp, p, ic, mcc, jc, ncc, pc, kcc, beta, inA, inB)
			}
		}
	}
}

// inPlaceB reports whether the kernel should read full micro-panels of B
// in place (row kk at b[kk*ldb+j]) rather than packed. Packing B only pays
// off when each panel is reused for several 6-row panels of A; with m <= 6
// (e.g. the transposed weight gradient of a conv with 6 channels) it would
// just copy B once more.
func inPlaceB(p *problem) bool {
	return useAsm && !p.transB && p.m <= mr && !directB(p)
}

// inPlaceA reports whether the kernel should read full micro-panels of
// op(A) in place rather than packed. With n <= 16 each A panel is used for
// a single B panel, so packing would only copy A once more. For a small A
// (<= 1 MiB, the MLP activations) reading in place is as fast as packed
// (the block stays in L2) and saves the packing pass, which every
// goroutine of a column-split parallel call would otherwise repeat; it is
// avoided when lda is a multiple of 1024 floats, whose rows would collide
// in the same L1 sets. Packing applies alpha, so this needs alpha == 1.
func inPlaceA(p *problem) bool {
	if !useAsm || p.alpha != 1 || directA(p) || inPlaceB(p) {
		return false
	}
	return p.n <= nr || (p.m*p.k <= 1<<18 && p.lda%1024 != 0)
}

// packPartialA packs only the trailing partial micro-panel (if any) of the
// mcc×kcc block of op(A) at (ic, pc), at the start of dst.
func packPartialA(dst []float32, p *problem, ic, mcc, pc, kcc int) {
	if full := mcc / mr * mr; full < mcc {
		packA(dst, p.a, p.lda, p.transA, ic+full, mcc-full, pc, kcc, p.alpha)
	}
}

// packPartialB packs only the trailing partial micro-panel (if any) of the
// kcc×ncc block of op(B) at (pc, jc), at the start of dst, for use with
// in-place full panels.
func packPartialB(dst []float32, p *problem, pc, kcc, jc, ncc int) {
	if full := ncc / nr * nr; full < ncc {
		packB(dst, p.b, p.ldb, false, pc, kcc, jc+full, ncc-full)
	}
}

// macroKernel multiplies the packed mcc×kcc block of A by the packed
// kcc×ncc block of B into C at (ic, jc); pc is the block's first k index.
// With inB, full B micro-panels are read in place from p.b and bpk holds
// only the trailing partial panel; inA does the same for A and apk.
func macroKernel(ws *workspace, apk, bpk []float32, p *problem, ic, mcc, jc, ncc, pc, kcc int, beta float32, inA, inB bool) {
	c := p.c
	rsc, csc := p.rsc, p.csc
	for jr := 0; jr < ncc; jr += nr {
		nrr := min(nr, ncc-jr)
		var bp []float32
		bIn := inB && nrr == nr
		switch {
		case bIn:
			// Rows pc..pc+kcc-1, columns jc+jr..+15 of B, read in place.
			o := pc*p.ldb + jc + jr
			bp = p.b[o : o+(kcc-1)*p.ldb+nr]
		case inB:
			bp = bpk[:nr*kcc]
		default:
			bp = bpk[jr*kcc : jr*kcc+nr*kcc]
		}
		for ir := 0; ir < mcc; ir += mr {
			mrr := min(mr, mcc-ir)
			aIn := inA && mrr == mr
			var ap []float32
			switch {
			case aIn:
				// The 6×kcc panel of op(A) at (ic+ir, pc), read in place.
				if p.transA {
					o := pc*p.lda + ic + ir
					ap = p.a[o : o+(kcc-1)*p.lda+mr]
				} else {
					o := (ic+ir)*p.lda + pc
					ap = p.a[o : o+(mr-1)*p.lda+kcc]
				}
			case inA:
				ap = apk[:mr*kcc]
			default:
				ap = apk[ir*kcc : ir*kcc+mr*kcc]
			}
			off := (ic+ir)*rsc + (jc+jr)*csc
			if mrr == mr && nrr == nr && csc == 1 {
				// Bounds: the last element touched is off+(mr-1)*rsc+nr-1.
				_ = c[off+(mr-1)*rsc+nr-1]
				tileKernel(p, kcc, ap, aIn, bp, bIn, c[off:], rsc, beta)
				continue
			}
			tileKernel(p, kcc, ap, aIn, bp, bIn, ws.tile[:], nr, 0)
			if useAsm && mrr == mr && nrr == nr && rsc == 1 {
				// Full tile of the transposed formulation.
				_ = c[off+(nr-1)*csc+mr-1]
				storeT(&ws.tile[0], &c[off], csc, beta)
				continue
			}
			mergeTile(&ws.tile, c, off, rsc, csc, mrr, nrr, beta)
		}
	}
}

// tileKernel runs the micro-kernel variant for where the A and B panels
// live (packed, or in place in p.a / p.b). In-place panels imply useAsm.
func tileKernel(p *problem, kcc int, ap []float32, aIn bool, bp []float32, bIn bool, c []float32, ldc int, beta float32) {
	switch {
	case bIn:
		kernelAsmS(kcc, &ap[0], &bp[0], &c[0], ldc, beta, p.ldb)
	case aIn && p.transA:
		kernelAsmAT(kcc, &ap[0], p.lda, &bp[0], &c[0], ldc, beta)
	case aIn:
		kernelAsmAN(kcc, &ap[0], p.lda, &bp[0], &c[0], ldc, beta)
	default:
		microKernel(kcc, ap, bp, c, ldc, beta)
	}
}

// mergeTile writes the top-left mrr×nrr part of tile into C with
// C = tile + beta*C (C ignored when beta is 0).
func mergeTile(tile *[mr * nr]float32, c []float32, off, rsc, csc, mrr, nrr int, beta float32) {
	if rsc == 1 {
		// Transposed formulation: tile column j is a contiguous run of C.
		for j := 0; j < nrr; j++ {
			o := off + j*csc
			cr := c[o : o+mrr]
			switch beta {
			case 0:
				for i := range cr {
					cr[i] = tile[i*nr+j]
				}
			case 1:
				for i := range cr {
					cr[i] += tile[i*nr+j]
				}
			default:
				for i := range cr {
					cr[i] = tile[i*nr+j] + beta*cr[i]
				}
			}
		}
		return
	}
	for i := 0; i < mrr; i++ {
		t := tile[i*nr : i*nr+nrr]
		o := off + i*rsc
		switch beta {
		case 0:
			for j, v := range t {
				c[o+j*csc] = v
			}
		case 1:
			for j, v := range t {
				c[o+j*csc] += v
			}
		default:
			for j, v := range t {
				c[o+j*csc] = v + beta*c[o+j*csc]
			}
		}
	}
}
