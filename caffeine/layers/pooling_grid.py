"""The *grid* layout of pooling: overlapping windows (3x3/2 in CIFAR10 and CaffeNet) as long
contiguous ufunc calls.  Holds ``PhaseGrid``: the phase planes, the cache-sized chunks of
(n, c) planes, and the MAX / AVE forward and backward loops over kernel offsets.

The bottom is split once into padded phase planes ``P_ab[r, c] = x_pad[r*sh + a, c*sw + b]``
(a < sh, b < sw).  Output (oh, ow) of kernel offset (i, j) reads ``P_ab[oh + i // sh, ow + j // sw]``
with a = i % sh, b = j % sw, so on a grid of rows x cols outputs per plane (a few spare ones,
dropped at the end) the inputs of *all* outputs of an offset are ONE contiguous 1-D slice of
``P_ab`` starting at ``(i // sh)*cols + j // sw``: long contiguous (SIMD) ufunc calls instead of
many short strided rows.

Caffe's semantics, kept here: Caffe's output size (ceil pooling by default) comes from
``PoolGeometry``; the padding holds -FLT_MAX (MAX) or 0 (AVE), which give Caffe's values for its
clipped windows; AVE divides by Caffe's pool_size, the window clipped to image + pad; offsets
are visited in Caffe's row-major order, so MAX's diff goes to the first input equal to the
maximum, the position Caffe's mask records.  STOCHASTIC never uses this layout.
"""
import numpy as np

from caffeine.layers.pooling_geometry import FLT_MAX, MAX, axis_offsets


class PhaseGrid:
    """The *grid* layout (see the module doc) for chunks of up to ``planes`` (n, c) planes.

    The batch is processed a chunk of planes at a time so that the phase planes and the
    grid stay in cache: the taps then cost no memory traffic, and each bottom, top and diff
    element crosses the memory bus about once.  (A cache-blocking loop over chunks of ~1 MiB
    of batch*channel planes, not a per-sample loop.)
    """

    CHUNK_BYTES = 1 << 20  # measured best on 2 MiB-L2 cores (256 KiB: 25% slower)
    KEEP_BYTES = 1 << 28   # keep every chunk's phase planes for backward up to this many bytes

    def __init__(self, geom, dtype, fill, total_planes, keep=False):
        g = self.geom = geom
        self.fill = fill
        # keep: one set of phase planes per chunk, so MAX backward reuses the forward's
        # (Caffe's backward likewise reads what its forward recorded, the mask)
        self._kept = {}
        self.total = total_planes
        sh, sw = g.stride_h, g.stride_w
        self.rows = g.out_h + (g.kernel_h - 1) // sh     # grid rows per plane (incl. spare)
        self.cols = g.out_w + (g.kernel_w - 1) // sw     # grid columns per plane (incl. spare)
        ph, pw = min(sh, g.kernel_h), min(sw, g.kernel_w)  # phases >= kernel are never read
        self.phases = [(a, b) for a in range(ph) for b in range(pw)]
        plane = self.rows * self.cols
        self.planes = max(1, min(total_planes, self.CHUNK_BYTES // (len(self.phases) * plane
                                                                   * np.dtype(dtype).itemsize)))
        self.grid_size = self.planes * plane
        slack = ((g.kernel_h - 1) // sh) * self.cols + (g.kernel_w - 1) // sw + 1
        self.buf = np.full((len(self.phases), self.grid_size + slack), fill, dtype=dtype)
        chunks = -(-total_planes // self.planes)
        self.keep = keep and chunks * self.buf.nbytes <= self.KEEP_BYTES
        self.dbuf = None
        rows = axis_offsets(g.height, self.rows, ph, sh, g.pad_h)
        cols = axis_offsets(g.width, self.cols, pw, sw, g.pad_w)
        # per phase: (phase index, (grid rows, grid cols), (input rows, input cols))
        self.copies = [(n, (rows[a][0], cols[b][0]), (rows[a][1], cols[b][1]))
                       for n, (a, b) in enumerate(self.phases)
                       if rows[a] is not None and cols[b] is not None]
        covered = np.zeros((g.height, g.width), dtype=bool)
        for _, _, (r, c) in self.copies:
            covered[r, c] = True
        self.covers_input = bool(covered.all())
        # per kernel offset: (phase index, start); its inputs are buf[phase, start:start+size]
        index = {ab: n for n, ab in enumerate(self.phases)}
        self.taps = [(index[(i % sh, j % sw)], (i // sh) * self.cols + j // sw)
                     for _, i, j, _, _ in g.offsets]
        self._scratch = {}  # grid-sized work arrays, by name

    def chunks(self, total_planes):
        for p0 in range(0, total_planes, self.planes):
            yield p0, min(total_planes, p0 + self.planes)

    def _phase3(self, buf, n, m):
        return buf[n, :m * self.rows * self.cols].reshape(m, self.rows, self.cols)

    def chunk_buffer(self, p0):
        """The phase planes of the chunk starting at plane p0 (one shared buffer unless keep)."""
        if not self.keep or p0 == 0:
            return self.buf
        buf = self._kept.get(p0)
        if buf is None:
            buf = self._kept[p0] = np.full_like(self.buf, self.fill)
        return buf

    def load(self, x3, buf):
        """Copy planes (m, H, W) into the padded phase planes buf (the padding keeps its fill)."""
        m = x3.shape[0]
        for n, (gr, gc), (ir, ic) in self.copies:
            self._phase3(buf, n, m)[:, gr, gc] = x3[:, ir, ic]

    def zero_dbuf(self):
        if self.dbuf is None:
            self.dbuf = np.zeros_like(self.buf)
        else:
            self.dbuf.fill(0)
        return self.dbuf

    def unload(self, dx3, accumulate):
        """dx3 (+)= the phase-plane gradient held in dbuf, padding dropped."""
        m = dx3.shape[0]
        if not accumulate and not self.covers_input:
            dx3.fill(0)
        for n, (gr, gc), (ir, ic) in self.copies:
            src, dst = self._phase3(self.dbuf, n, m)[:, gr, gc], dx3[:, ir, ic]
            if accumulate:
                np.add(dst, src, out=dst)
            else:
                np.copyto(dst, src)

    def outputs(self, flat, m):
        """The real outputs of (the first m planes of) a grid array, as (m, out_h, out_w)."""
        g = self.geom
        return flat[:m * self.rows * self.cols].reshape(m, self.rows, self.cols)[:, :g.out_h, :g.out_w]

    def _work(self, name, dtype, zero=False):
        buf = self._scratch.get(name)
        if buf is None or buf.dtype != dtype:
            buf = self._scratch[name] = (np.zeros if zero else np.empty)(self.grid_size, dtype=dtype)
        return buf

    def forward(self, x3, out3, method):
        """out3 = MAX or AVE pooling of the planes x3, both shaped (planes, height, width)."""
        is_max = method == MAX
        # MAX: backward reuses each chunk's phase planes and window maxima (``("acc", p0)``)
        pool_size = self.geom.pool_size(out3.dtype) if not is_max else None
        for p0, p1 in self.chunks(x3.shape[0]):
            m = p1 - p0
            buf = self.chunk_buffer(p0)
            self.load(x3[p0:p1], buf)
            acc = self._work(("acc", p0) if is_max else "acc", x3.dtype)
            a_ = acc[:m * self.rows * self.cols]
            for n_tap, (a, start) in enumerate(self.taps):
                v = buf[a, start:start + a_.size]
                if n_tap == 0:  # Caffe's MAX windows start at -FLT_MAX, AVE sums at 0
                    if is_max:
                        np.fmax(v, -FLT_MAX, out=a_)
                    else:
                        np.copyto(a_, v)
                elif is_max:
                    np.fmax(a_, v, out=a_)  # fmax skips NaN, as Caffe's '>' does
                else:
                    np.add(a_, v, out=a_)
            if is_max:
                np.copyto(out3[p0:p1], self.outputs(acc, m))
            else:
                np.divide(self.outputs(acc, m), pool_size, out=out3[p0:p1])
        return out3

    def backward(self, x3, dy3, dx3, method, accumulate):
        """dx3 (+)= the gradient of ``forward`` (same plane shapes); MAX reads the maxima it kept."""
        is_max = method == MAX
        # spare grid cells of ``grad`` stay 0: only outputs() is ever written
        grad = self._work("grad", dy3.dtype, zero=True)
        if is_max:
            eq = self._work("eq", np.dtype(bool))
            part = self._work("part", dy3.dtype)
        else:
            pool_size = self.geom.pool_size(dy3.dtype)
        for p0, p1 in self.chunks(x3.shape[0]):
            m = p1 - p0
            size = m * self.rows * self.cols
            dbuf = self.zero_dbuf()
            if is_max:
                buf = self.chunk_buffer(p0)  # the forward's phase planes and window maxima
                if not self.keep:
                    self.load(x3[p0:p1], buf)
                np.copyto(self.outputs(grad, m), dy3[p0:p1])
                best = self._scratch[("acc", p0)]
                g_, b_, e_, f_ = grad[:size], best[:size], eq[:size], part[:size]
                for n_tap, (a, start) in enumerate(self.taps):
                    # the diff goes to the first input equal to the max, then is used up
                    # (plain multiplies: numpy's where= loops are slow on scattered masks)
                    np.equal(buf[a, start:start + size], b_, out=e_)
                    np.copyto(f_, e_)
                    np.multiply(g_, f_, out=f_)
                    d = dbuf[a, start:start + size]
                    np.add(d, f_, out=d)
                    if n_tap != len(self.taps) - 1:
                        np.subtract(g_, f_, out=g_)
            else:
                np.divide(dy3[p0:p1], pool_size, out=self.outputs(grad, m))
                g_ = grad[:size]
                for a, start in self.taps:
                    d = dbuf[a, start:start + size]
                    np.add(d, g_, out=d)
            self.unload(dx3[p0:p1], accumulate)
