"""Pooling window geometry (Caffe's PoolingLayer shapes), shared by the Pooling and SPP layers.

Holds the PoolingParameter constants (MAX, AVE, STOCHASTIC; Caffe's -FLT_MAX and FLT_MIN
starting values), ``pooled_size`` (Caffe's output size: *ceil* of (size + 2 pad - kernel) /
stride plus one, or floor with ``round_mode: FLOOR``, dropping a last window that starts in the
padding), ``axis_offsets`` and ``PoolGeometry`` (the windows, Caffe's AVE divisor and MAX mask
index), and the *views* layout's two loops, ``sum_windows`` and ``scatter_windows``.

*Views*: for kernel offset (i, j) the inputs ``x[oh*s - pad + i, ow*s - pad + j]`` form a
strided view of the bottom for a rectangle of outputs; outputs whose input lies in the padding
or past the image skip that offset, exactly like Caffe's clipped ``hstart..hend`` loops.  The
offsets are visited in row-major order -- the order Caffe walks a window -- so sums are added in
Caffe's order and MAX ties go to the first maximum, as Caffe's strict ``>`` does.

AVE divides by the window clipped to image + pad, not to the image (Caffe's ``pool_size``), so
padded zeros count.  STOCHASTIC (no padding in Caffe) sums its windows with ``sum_windows``:
the sum for TRAIN's sampling threshold, the sum and the sum of squares for TEST's
activation-weighted average.
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
