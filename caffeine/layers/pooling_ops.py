"""Array-level pooling (Caffe's PoolingLayer maths), shared by the Pooling and SPP layers.

Holds ``Pooler``: one pooling (geometry, method, phase), which picks an array layout for its
geometry, runs forward and backward, and keeps what its backward needs.  Everything is
vectorised over the whole batch; the only Python loops run over kernel offsets, in Caffe's
row-major window order.  The window geometry (Caffe's ceil output size, the AVE divisor that
counts padding) is ``pooling_geometry``; the grid layout is ``pooling_grid``.  Their names are
re-exported here, the module the layers and tests import.

Layouts, picked per geometry:

- *global* (kernel = whole plane): one reduction over each (n, c) plane.
- *views* (``pooling_geometry``): one strided view of the bottom per kernel offset.  Used when
  the windows tile the image (k == stride, e.g. LeNet's 2x2/2) and for STOCHASTIC.
- *blocks* (stride == kernel, large kernels such as SPP's levels): the padded bottom cut into
  disjoint blocks, one reduction over the last axis.
- *grid* (``pooling_grid``): overlapping windows as contiguous slices of phase planes.

Caffe semantics: MAX windows start at -FLT_MAX and ties go to the first maximum (Caffe's strict
``>``); AVE divides by Caffe's pool_size (padding counted); STOCHASTIC samples in TRAIN (Caffe's
StoPoolForwardTrain, the first position whose running sum reaches u * window sum) and takes
sum(x^2) / sum(x) in TEST (StoPoolForwardTest).
"""
import numpy as np

from caffeine.layers.pooling_geometry import (AVE, FLT_MAX, FLT_MIN, MAX, STOCHASTIC, PoolGeometry,
                                              axis_offsets, pooled_size, scatter_windows,
                                              sum_windows)
from caffeine.layers.pooling_grid import PhaseGrid

__all__ = ["AVE", "FLT_MAX", "FLT_MIN", "MAX", "STOCHASTIC", "PhaseGrid", "PoolGeometry", "Pooler",
           "axis_offsets", "pooled_size", "scatter_windows", "sum_windows"]


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
        return g

    def _work(self, name, shape, dtype):
        buf = self._state.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
            buf = self._state[name] = np.empty(shape, dtype=dtype)
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

    # ---- the grid layout (pooling_grid.PhaseGrid): chunks of planes, one 1-D slice per offset --
    def _planes3(self, arr):
        return arr.reshape((-1,) + arr.shape[2:])

    def _grid_forward(self, x, out):
        self._phase_grid(x).forward(self._planes3(x), self._planes3(out), self.method)
        return out

    def _grid_backward(self, x, dy, dx, accumulate):
        self._grid.backward(self._planes3(x), self._planes3(dy), self._planes3(dx), self.method,
                            accumulate)
