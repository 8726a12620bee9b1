"""Array-level pooling (Caffe's PoolingLayer maths), shared by the Pooling and SPP layers.

Everything is vectorised over the whole batch; the only Python loops run over kernel
offsets (i, j), visited in row-major order -- the order Caffe walks a window -- so sums are
added in Caffe's order and MAX ties go to the first maximum, as Caffe's strict ``>`` does.

Three layouts, picked per geometry:

- *global* (kernel = whole plane): one reduction over each (n, c) plane.
- *views*: for offset (i, j) the inputs ``x[oh*s - pad + i, ow*s - pad + j]`` form a strided
  view of the bottom for a rectangle of outputs; outputs whose input lies in the padding or
  past the image skip that offset, exactly like Caffe's clipped ``hstart..hend`` loops.  Used
  when the windows tile the image (k == stride, e.g. LeNet's 2x2/2) and for STOCHASTIC.
- *grid*: the bottom is split once into padded phase planes
  ``P_ab[r, c] = x_pad[r*sh + a, c*sw + b]`` (a < sh, b < sw).  Output (oh, ow) of kernel
  offset (i, j) reads ``P_ab[oh + i // sh, ow + j // sw]`` with a = i % sh, b = j % sw, so on a
  grid of rows x cols outputs per plane (a few spare ones, dropped at the end) the inputs of
  *all* outputs of an offset are ONE contiguous 1-D slice of ``P_ab`` starting at
  ``(i // sh)*cols + j // sw``.  Long contiguous (SIMD) ufunc calls instead of many short
  strided rows: this is what makes overlapping windows (3x3/2 in CIFAR10 and CaffeNet)
  fast.  Padding holds -FLT_MAX (MAX) or 0 (AVE), which give Caffe's values for its clipped
  windows.
"""
import numpy as np

FLT_MAX = float(np.finfo(np.float32).max)   # Caffe's initial MAX value is -FLT_MAX
FLT_MIN = float(np.finfo(np.float32).tiny)  # Caffe's stochastic TEST sum starts at FLT_MIN
MAX, AVE, STOCHASTIC = 0, 1, 2              # PoolingParameter.PoolMethod


def pooled_size(size, kernel, stride, pad, any_pad, floor=False):
    """Caffe's output size: ceil (or floor) of (size + 2 pad - kernel) / stride, plus one.

    With padding on either axis (Caffe tests ``pad_h || pad_w``) the last window must start
    strictly inside image + pad, else it is dropped.
    """
    span = size + 2 * pad - kernel
    out = (span // stride if floor else -(-span // stride)) + 1
    if any_pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def axis_offsets(size, out, kernel, stride, pad):
    """Per offset i along one axis: (output slice, input slice) of the outputs whose input
    ``o*stride - pad + i`` lies inside [0, size), or None when there are none."""
    result = []
    for i in range(kernel):
        lo = max(0, -((i - pad) // stride))
        hi = min(out, (size - 1 + pad - i) // stride + 1)
        if hi <= lo:
            result.append(None)
            continue
        start = lo * stride - pad + i
        result.append((slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)))
    return result


def _covers_once(size, offsets):
    cover = np.zeros(size, dtype=np.int64)
    for o in offsets:
        if o is not None:
            cover[o[1]] += 1
    return bool(np.all(cover == 1))


class PoolGeometry:
    """Window geometry of one pooling: output size, per-offset views, AVE divisors."""

    def __init__(self, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                 floor=False):
        self.height, self.width = height, width
        self.kernel_h, self.kernel_w = kernel_h, kernel_w
        self.stride_h, self.stride_w = stride_h, stride_w
        self.pad_h, self.pad_w = pad_h, pad_w
        any_pad = bool(pad_h or pad_w)
        self.out_h = pooled_size(height, kernel_h, stride_h, pad_h, any_pad, floor)
        self.out_w = pooled_size(width, kernel_w, stride_w, pad_w, any_pad, floor)
        self._rows = axis_offsets(height, self.out_h, kernel_h, stride_h, pad_h)
        self._cols = axis_offsets(width, self.out_w, kernel_w, stride_w, pad_w)
        self._offsets = None
        # every input read by exactly one offset: backward may assign instead of accumulate
        self.tiles = _covers_once(height, self._rows) and _covers_once(width, self._cols)
        self.is_global = (self.out_h == 1 and self.out_w == 1 and kernel_h == height
                          and kernel_w == width and pad_h == 0 and pad_w == 0)
        # non-overlapping windows (SPP's levels): pool whole blocks, whatever the kernel size
        self.is_blocks = stride_h == kernel_h and stride_w == kernel_w
        self._pool_size = {}

    @property
    def offsets(self):
        """(flat offset k = i*kernel_w + j, i, j, output index, input index), Caffe's order."""
        if self._offsets is None:
            self._offsets = [(i * self.kernel_w + j, i, j, (Ellipsis, r[0], c[0]), (Ellipsis, r[1], c[1]))
                             for i, r in enumerate(self._rows) for j, c in enumerate(self._cols)
                             if r is not None and c is not None]
        return self._offsets

    def full(self, out_index):
        """Does this offset's output rectangle cover every output?"""
        return out_index[1] == slice(0, self.out_h) and out_index[2] == slice(0, self.out_w)

    def pool_size(self, dtype):
        """Caffe's AVE divisor: the window clipped to image + pad (not to the image)."""
        key = np.dtype(dtype)
        if key not in self._pool_size:
            def extent(size, out, kernel, stride, pad):
                start = np.arange(out) * stride - pad
                return np.minimum(start + kernel, size + pad) - start
            eh = extent(self.height, self.out_h, self.kernel_h, self.stride_h, self.pad_h)
            ew = extent(self.width, self.out_w, self.kernel_w, self.stride_w, self.pad_w)
            size = np.outer(eh, ew)
            # A window wholly past the image (stride > kernel, no pad) has size <= 0 in
            # Caffe, which then divides 0 by 0 (NaN); its output is 0 here.
            size[size == 0] = 1
            self._pool_size[key] = size.astype(key)
        return self._pool_size[key]

    def caffe_index(self, offset):
        """Caffe's mask value h*W + w for the outputs of one offset, shape (rows, cols)."""
        _, i, j, out_index, _ = offset
        r, c = out_index[1], out_index[2]
        h = np.arange(r.start, r.stop) * self.stride_h - self.pad_h + i
        w = np.arange(c.start, c.stop) * self.stride_w - self.pad_w + j
        return h[:, None] * self.width + w[None, :]


def sum_windows(x, geom, out, square=False):
    """out = sum over each window (views layout, Caffe's order); ``square`` sums x*x."""
    first = True
    for offset in geom.offsets:
        v = x[offset[4]]
        if square:
            v = v * v
        o = out[offset[3]]
        if first and geom.full(offset[3]):
            np.copyto(o, v)
        else:
            if first:
                out.fill(0)
            np.add(o, v, out=o)
        first = False
    if first:
        out.fill(0)
    return out


def scatter_windows(dx, geom, values_for, accumulate):
    """dx[inputs of offset] (+)= values_for(offset, dest): the adjoint of reading windows."""
    assign = geom.tiles and not accumulate
    if not assign and not accumulate:
        dx.fill(0)
    for offset in geom.offsets:
        d = dx[offset[4]]
        if assign:
            values_for(offset, d)
        else:
            np.add(d, values_for(offset, None), out=d)


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


class Pooler:
    """One pooling (geometry, method, phase) and the state its backward needs.

    MAX keeps its own copy of the window maxima (an in-place layer above may rewrite the
    top; Caffe keeps a mask for the same reason) and routes each top diff to the first input
    in the window equal to it -- the position Caffe's mask records.
    """

    def __init__(self, geom, method, train):
        self.geom = geom
        self.method = method
        self.train = train
        if method == STOCHASTIC:
            self.layout = "views"
        elif geom.is_global:
            self.layout = "global"
        elif geom.is_blocks and geom.kernel_h * geom.kernel_w > 9:
            self.layout = "blocks"
        else:
            self.layout = "views" if geom.tiles else "grid"
        self._grid = None
        self._state = {}

    def _phase_grid(self, x):
        total = x.shape[0] * x.shape[1]
        g = self._grid
        if g is None or g.buf.dtype != x.dtype or g.total != total:
            fill = -FLT_MAX if self.method == MAX else 0.0
            g = self._grid = PhaseGrid(self.geom, x.dtype, fill, total, keep=self.method == MAX)
            self._state.clear()
        return g

    def _work(self, name, shape, dtype, zero=False):
        buf = self._state.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = self._state[name] = (np.zeros if zero else np.empty)(shape, dtype=dtype)
        return buf

    # ---- forward ---------------------------------------------------------------------
    def forward(self, x, out, rng=None):
        g = self.geom
        if self.method == STOCHASTIC:
            return self._stochastic_train(x, out, rng) if self.train else self._stochastic_test(x, out)
        if self.layout == "global":
            n, c = x.shape[:2]
            planes = x.reshape(n, c, -1)
            if self.method == MAX:  # Caffe's windows start at -FLT_MAX
                np.fmax(planes.max(axis=2), -FLT_MAX, out=out.reshape(n, c))
            else:
                np.divide(planes.sum(axis=2), g.height * g.width, out=out.reshape(n, c))
            return out
        if self.layout == "grid":
            return self._grid_forward(x, out)
        if self.layout == "blocks":
            return self._blocks_forward(x, out)
        if self.method == MAX:
            first = True
            for offset in g.offsets:
                o = out[offset[3]]
                if first:
                    if not g.full(offset[3]):
                        out.fill(-FLT_MAX)
                    np.fmax(x[offset[4]], -FLT_MAX, out=o)
                    first = False
                else:
                    np.fmax(o, x[offset[4]], out=o)
            if first:
                out.fill(-FLT_MAX)
            np.copyto(self._work("max", out.shape, out.dtype), out)
        else:
            sum_windows(x, g, out)
            np.divide(out, g.pool_size(out.dtype), out=out)
        return out

    def mask(self, x, best, mask_out):
        """Caffe's MAX mask (top[1]): h*W + w of the first maximum of each window, else -1."""
        mask_out.fill(-1)
        eq = np.empty(best.shape, dtype=bool)
        for offset in reversed(self.geom.offsets):  # the earliest offset writes last and wins
            e = eq[offset[3]]
            np.equal(x[offset[4]], best[offset[3]], out=e)
            index = self.geom.caffe_index(offset).astype(mask_out.dtype)
            np.copyto(mask_out[offset[3]], index, where=e)
        return mask_out

    def _stochastic_train(self, x, out, rng):
        """Caffe's StoPoolForwardTrain: the first position whose running sum reaches
        u * (window sum), u ~ U[0, 1) -- a sample with probability proportional to x."""
        g = self.geom
        total = sum_windows(x, g, np.empty_like(out))
        thres = rng.random(out.shape, dtype=out.dtype)
        thres *= total
        running = np.zeros_like(out)
        chosen = np.full(out.shape, -1, dtype=np.int32)  # flat kernel offset; -1: none
        hit = np.empty(out.shape, dtype=bool)
        out.fill(0)
        for offset in g.offsets:
            k, o, v = offset[0], offset[3], x[offset[4]]
            r = running[o]
            np.add(r, v, out=r)
            h = hit[o]
            np.greater_equal(r, thres[o], out=h)
            np.logical_and(h, chosen[o] < 0, out=h)
            np.copyto(out[o], v, where=h)
            np.copyto(chosen[o], k, where=h)
        self._state["chosen"] = chosen
        return out

    def _stochastic_test(self, x, out):
        """Caffe's StoPoolForwardTest: sum(x^2) / (FLT_MIN + sum(x)) over each window."""
        s = sum_windows(x, self.geom, np.empty_like(out))
        s += FLT_MIN
        q = sum_windows(x, self.geom, np.empty_like(out), square=True)
        np.divide(q, s, out=out)
        self._state["sum"], self._state["sumsq"] = s, q
        return out

    # ---- backward --------------------------------------------------------------------
    def backward(self, x, dy, dx, accumulate=False):
        """dx = d(loss)/d(bottom), or dx += ... when ``accumulate`` (SPP sums its levels)."""
        g = self.geom
        if self.layout == "global":
            return self._global_backward(x, dy, dx, accumulate)
        if self.layout == "grid":
            return self._grid_backward(x, dy, dx, accumulate)
        if self.layout == "blocks":
            return self._blocks_backward(dy, dx, accumulate)
        if self.method == MAX:
            best = self._state["max"]
            rest = dy.copy()  # diff not yet routed: it goes to the first input equal to the max
            eq = np.empty(best.shape, dtype=bool)
            last = g.offsets[-1][0]

            def values(offset, dest):
                o = offset[3]
                e = eq[o]
                np.equal(x[offset[4]], best[o], out=e)
                r = rest[o]
                part = np.multiply(r, e, out=dest)
                if offset[0] != last:
                    np.subtract(r, part, out=r)
                return part
        elif self.method == AVE:
            grad = dy / g.pool_size(dy.dtype)  # Caffe: top_diff / pool_size to each input

            def values(offset, dest):
                v = grad[offset[3]]
                return v if dest is None else np.copyto(dest, v)
        elif self.train:
            chosen = self._state["chosen"]

            def values(offset, dest):
                return np.multiply(dy[offset[3]], chosen[offset[3]] == offset[0], out=dest)
        else:
            # Caffe has no TEST-phase STOCHASTIC gradient (it reuses stale indices); this is
            # the exact derivative of q/s: d/dx_i = (2 x_i s - q) / s^2.
            s, q = self._state["sum"], self._state["sumsq"]
            a = 2 * dy / s
            b = dy * q / (s * s)

            def values(offset, dest):
                r = np.multiply(x[offset[4]], a[offset[3]], out=dest)
                return np.subtract(r, b[offset[3]], out=r)
        scatter_windows(dx, g, values, accumulate)

    def _global_backward(self, x, dy, dx, accumulate):
        n, c = x.shape[:2]
        flat = dx.reshape(n * c, -1)
        if not accumulate:
            flat.fill(0)
        if self.method == MAX:
            first = np.argmax(x.reshape(n * c, -1), axis=1)  # the first maximum, as Caffe
            flat[np.arange(n * c), first] += dy.reshape(-1)
        else:
            flat += dy.reshape(n * c, 1) / (self.geom.height * self.geom.width)

    # ---- the blocks layout: stride == kernel, so the windows are disjoint blocks ------------
    def _block_extent(self):
        g = self.geom
        hp, wp = g.out_h * g.kernel_h, g.out_w * g.kernel_w
        return hp, wp, min(g.height, hp - g.pad_h), min(g.width, wp - g.pad_w)

    def _blocks_forward(self, x, out):
        """Pad to (out_h*kh, out_w*kw), cut into (N, C, out_h, out_w, kh*kw), reduce the last axis
        (row-major within a window: argmax's first maximum is Caffe's)."""
        g = self.geom
        n, c = x.shape[:2]
        hp, wp, rh, rw = self._block_extent()
        xp = np.full((n, c, hp, wp), -FLT_MAX if self.method == MAX else 0.0, dtype=x.dtype)
        xp[:, :, g.pad_h:g.pad_h + rh, g.pad_w:g.pad_w + rw] = x[:, :, :rh, :rw]
        blocks = xp.reshape(n, c, g.out_h, g.kernel_h, g.out_w, g.kernel_w).transpose(0, 1, 2, 4, 3, 5)
        blocks = blocks.reshape(n, c, g.out_h, g.out_w, -1)
        if self.method == MAX:
            first = blocks.argmax(axis=-1)
            self._state["argmax"] = first
            np.fmax(np.take_along_axis(blocks, first[..., None], axis=-1)[..., 0], -FLT_MAX, out=out)
        else:
            np.divide(blocks.sum(axis=-1), g.pool_size(out.dtype), out=out)
        return out

    def _blocks_backward(self, dy, dx, accumulate):
        g = self.geom
        n, c = dy.shape[:2]
        hp, wp, rh, rw = self._block_extent()
        if self.method == MAX:
            dblocks = np.zeros(dy.shape + (g.kernel_h * g.kernel_w,), dtype=dx.dtype)
            np.put_along_axis(dblocks, self._state["argmax"][..., None], dy[..., None], axis=-1)
        else:
            share = (dy / g.pool_size(dy.dtype))[..., None]
            dblocks = np.broadcast_to(share, dy.shape + (g.kernel_h * g.kernel_w,))
        dxp = dblocks.reshape(n, c, g.out_h, g.out_w, g.kernel_h, g.kernel_w).transpose(0, 1, 2, 4, 3, 5)
        region = dxp.reshape(n, c, hp, wp)[:, :, g.pad_h:g.pad_h + rh, g.pad_w:g.pad_w + rw]
        if accumulate:
            dx[:, :, :rh, :rw] += region
        else:
            if rh < g.height or rw < g.width:
                dx.fill(0)
            dx[:, :, :rh, :rw] = region

    # ---- the grid layout: chunks of planes, one 1-D slice per kernel offset ---------------
    def _planes3(self, arr):
        return arr.reshape((-1,) + arr.shape[2:])

    def _grid_forward(self, x, out):
        pg = self._phase_grid(x)
        x3, out3 = self._planes3(x), self._planes3(out)
        # MAX: backward reuses each chunk's phase planes and window maxima (``("acc", p0)``)
        pool_size = self.geom.pool_size(out.dtype) if self.method != MAX else None
        for p0, p1 in pg.chunks(x3.shape[0]):
            m = p1 - p0
            buf = pg.chunk_buffer(p0)
            pg.load(x3[p0:p1], buf)
            acc = self._work(("acc", p0) if self.method == MAX else "acc", (pg.grid_size,), x.dtype)
            a_ = acc[:m * pg.rows * pg.cols]
            for n_tap, (a, start) in enumerate(pg.taps):
                v = buf[a, start:start + a_.size]
                if n_tap == 0:  # Caffe's MAX windows start at -FLT_MAX, AVE sums at 0
                    if self.method == MAX:
                        np.fmax(v, -FLT_MAX, out=a_)
                    else:
                        np.copyto(a_, v)
                elif self.method == MAX:
                    np.fmax(a_, v, out=a_)  # fmax skips NaN, as Caffe's '>' does
                else:
                    np.add(a_, v, out=a_)
            if self.method == MAX:
                np.copyto(out3[p0:p1], pg.outputs(acc, m))
            else:
                np.divide(pg.outputs(acc, m), pool_size, out=out3[p0:p1])
        return out

    def _grid_backward(self, x, dy, dx, accumulate):
        pg = self._grid
        x3, dy3, dx3 = self._planes3(x), self._planes3(dy), self._planes3(dx)
        # spare grid cells of ``grad`` stay 0: only outputs() is ever written
        grad = self._work("grad", (pg.grid_size,), dy.dtype, zero=True)
        if self.method == MAX:
            eq = self._work("eq", (pg.grid_size,), np.dtype(bool))
            part = self._work("part", (pg.grid_size,), dy.dtype)
        else:
            pool_size = self.geom.pool_size(dy.dtype)
        for p0, p1 in pg.chunks(x3.shape[0]):
            m = p1 - p0
            size = m * pg.rows * pg.cols
            dbuf = pg.zero_dbuf()
            if self.method == MAX:
                buf = pg.chunk_buffer(p0)  # the forward's phase planes and window maxima
                if not pg.keep:
                    pg.load(x3[p0:p1], buf)
                np.copyto(pg.outputs(grad, m), dy3[p0:p1])
                best = self._state[("acc", p0)]
                g_, b_, e_, f_ = grad[:size], best[:size], eq[:size], part[:size]
                for n_tap, (a, start) in enumerate(pg.taps):
                    # the diff goes to the first input equal to the max, then is used up
                    # (plain multiplies: numpy's where= loops are slow on scattered masks)
                    np.equal(buf[a, start:start + size], b_, out=e_)
                    np.copyto(f_, e_)
                    np.multiply(g_, f_, out=f_)
                    d = dbuf[a, start:start + size]
                    np.add(d, f_, out=d)
                    if n_tap != len(pg.taps) - 1:
                        np.subtract(g_, f_, out=g_)
            else:
                np.divide(dy3[p0:p1], pool_size, out=pg.outputs(grad, m))
                g_ = grad[:size]
                for a, start in pg.taps:
                    d = dbuf[a, start:start + size]
                    np.add(d, g_, out=d)
            pg.unload(dx3[p0:p1], accumulate)
