"""im2col / col2im for N-D kernels with pad, stride and dilation, vectorized.

Caffe's ``im2col_nd`` turns one image ``(C, *S)`` into a column matrix whose rows
are ``(c, k_0, k_1, ...)`` (channel-major, kernel offsets row-major) and whose
columns are the output positions ``(o_0, o_1, ...)``:

    col[(c, k...), (o...)] = x_padded[c, o_i * stride_i + k_i * dilation_i ...]

Here every kernel window of a whole batch is one ``as_strided`` view of a zero-padded
copy (``window_view``); copying that view is im2col, and summing into it one kernel
offset at a time (a loop over the ``prod(kernel)`` offsets only) is col2im.

Two layouts are provided:
- Caffe's: ``im2col(x)`` -> ``(N, C*K, *out)``, per image exactly Caffe's column
  buffer (used by the Im2col layer);
- ``BlockColumns``: the ``(C*K, M)`` column matrix of a block of images, ``M``
  covering every (image, output position) pair, used by the convolution layers so
  one GEMM covers the whole block.
"""
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided


def kernel_extent(kernel, dilation):
    """Span of a dilated kernel along one axis: ``dilation * (kernel - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def conv_output_shape(input_shape, kernel, stride, pad, dilation):
    """Caffe's ConvolutionLayer::compute_output_shape (callers check the kernel fits)."""
    return tuple((i + 2 * p - kernel_extent(k, d)) // s + 1
                 for i, k, s, p, d in zip(input_shape, kernel, stride, pad, dilation))


def deconv_output_shape(input_shape, kernel, stride, pad, dilation):
    """Caffe's DeconvolutionLayer::compute_output_shape."""
    return tuple(s * (i - 1) + kernel_extent(k, d) - 2 * p
                 for i, k, s, p, d in zip(input_shape, kernel, stride, pad, dilation))


def window_view(padded, first_spatial, kernel, stride, dilation, out_shape):
    """Every kernel window of ``padded`` as a strided view (no copy).

    ``padded`` has its spatial axes at ``first_spatial .. first_spatial+d-1``; the
    result replaces them by ``(*kernel, *out_shape)``:
    ``view[..., k..., o..., ...] = padded[..., o_i*stride_i + k_i*dilation_i, ...]``.
    The view overlaps itself; write to it only one kernel offset at a time.
    """
    nd = len(kernel)
    end = first_spatial + nd
    spatial_strides = padded.strides[first_spatial:end]
    shape = padded.shape[:first_spatial] + tuple(kernel) + tuple(out_shape) + padded.shape[end:]
    strides = (padded.strides[:first_spatial]
               + tuple(st * d for st, d in zip(spatial_strides, dilation))
               + tuple(st * s for st, s in zip(spatial_strides, stride))
               + padded.strides[end:])
    return as_strided(padded, shape, strides)


def accumulate_windows(view, cols, first_kernel_axis, kernel):
    """col2im core: ``view[..., k, ...] += cols[..., k, ...]`` for each kernel offset k.

    One vectorized add per kernel offset; within one offset the windows never
    overlap, so the adds are exact (Caffe's col2im sums the same terms).
    """
    lead = (slice(None),) * first_kernel_axis
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = lead + offset
        target = view[index]
        np.add(target, cols[index], out=target)


def interior(pad, lead=1, trail=0):
    """Index of the un-padded region of an array with ``lead`` axes before the spatial ones."""
    return ((slice(None),) * lead + tuple(slice(p, -p if p else None) for p in pad)
            + (slice(None),) * trail)


# ---- Caffe's layout: (N, C, *S) <-> (N, C*K, *out) ------------------------------------
def pad_images(x, pad):
    """Zero-pad the spatial axes of ``(N, C, *S)``; returns ``x`` itself when pad is 0."""
    if not any(pad):
        return x
    padded = np.zeros(x.shape[:2] + tuple(s + 2 * p for s, p in zip(x.shape[2:], pad)), x.dtype)
    padded[interior(pad, lead=2)] = x
    return padded


def im2col(x, kernel, pad, stride, dilation, out=None):
    """``x (N, C, *S)`` -> ``(N, C*prod(kernel), *out_shape)``: Caffe's column buffer per image."""
    n, c = x.shape[:2]
    out_shape = conv_output_shape(x.shape[2:], kernel, stride, pad, dilation)
    view = window_view(pad_images(x, pad), 2, kernel, stride, dilation, out_shape)
    if out is None:
        out = np.empty((n, c * math.prod(kernel)) + out_shape, dtype=x.dtype)
    np.copyto(out.reshape(view.shape), view)
    return out


def col2im(cols, image_shape, kernel, pad, stride, dilation, out=None):
    """Adjoint of ``im2col``: sum ``(N, C*K, *out)`` columns back into ``(N, C, *S)`` images."""
    n, c = image_shape[:2]
    spatial = tuple(image_shape[2:])
    out_shape = conv_output_shape(spatial, kernel, stride, pad, dilation)
    padded = np.zeros((n, c) + tuple(s + 2 * p for s, p in zip(spatial, pad)), dtype=cols.dtype)
    view = window_view(padded, 2, kernel, stride, dilation, out_shape)
    accumulate_windows(view, cols.reshape(view.shape), 2, kernel)
    if out is None:
        out = np.empty((n, c) + spatial, dtype=cols.dtype)
    out[...] = padded[interior(pad, lead=2)]
    return out


# ---- block columns used by the convolution layers ---------------------------------
class BlockColumns:
    """im2col / col2im of blocks of ``n`` images for one convolution geometry.

    The column matrix of a block is ``(C*K, M)``: row ``(c, k...)`` as Caffe's, and the
    ``M`` columns are every (image, output position) pair, ordered either
    - batch-last ``(o..., i)``: the padded images are stored ``(C, *Sp, n)`` so each
      copy or add runs over ``out_w * n`` contiguous elements (best for small
      outputs such as 8x8), or
    - batch-major ``(i, o...)``: images stay ``(n, C, *Sp)`` and the conv output
      ``(C_out, n, L)`` is one cheap transpose away from the top blob (best for large
      outputs, where a batch-last transpose would stride through memory).
    Scratch arrays are kept between calls so big buffers are not re-faulted each time.
    """

    def __init__(self, channels, image_spatial, kernel, stride, pad, dilation, batch_last, dtype):
        self.channels = channels
        self.image_spatial = tuple(image_spatial)
        self.kernel, self.stride, self.pad, self.dilation = kernel, stride, pad, dilation
        self.grid = conv_output_shape(image_spatial, kernel, stride, pad, dilation)
        self.grid_size = math.prod(self.grid)
        self.padded_spatial = tuple(s + 2 * p for s, p in zip(image_spatial, pad))
        self.batch_last = batch_last
        self.dtype = dtype
        self.rows_k = channels * math.prod(kernel)
        self._scratch = {}
        self._kept = None  # (key, copy of the images, columns) of the last reusable im2col

    def buffer(self, name, shape, zero=False):
        key = (name, shape)
        buf = self._scratch.get(key)
        if buf is None:
            buf = np.zeros(shape, self.dtype) if zero else np.empty(shape, self.dtype)
            self._scratch[key] = buf
        return buf

    def _padded_shape(self, n):
        if self.batch_last:
            return (self.channels,) + self.padded_spatial + (n,)
        return (n, self.channels) + self.padded_spatial

    def _windows(self, padded):
        """Window view ordered like the column matrix: ``(C, *k, <M axes>)``."""
        if self.batch_last:
            return window_view(padded, 1, self.kernel, self.stride, self.dilation, self.grid)
        view = window_view(padded, 2, self.kernel, self.stride, self.dilation, self.grid)
        nd = len(self.kernel)
        return view.transpose((1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd)))

    def im2col(self, images, groups=1, ones_row=False, reuse=False):
        """``images (n, C, *S)`` -> grouped columns ``(groups, C/groups*K [+1], M)``.

        With ``ones_row`` each group gets a last row of ones, so a weight matrix with the
        bias as an extra column adds the bias inside the GEMM (and the weight-gradient
        GEMM yields the bias gradient).  With ``reuse``, a call whose images equal those
        of the previous ``reuse`` call returns the same columns without recomputing them
        (backward after forward: Caffe redoes im2col there; comparing the images costs a
        few percent of that).  The result is a scratch array, valid until the next call.
        """
        n = images.shape[0]
        key = (images.shape, groups, ones_row)
        kept = self._kept
        if reuse and kept is not None and kept[0] == key and np.array_equal(kept[1], images):
            return kept[2]
        self._kept = None
        if self.batch_last:
            padded = self.buffer("padded", self._padded_shape(n), zero=True)  # border stays zero
            np.copyto(padded[interior(self.pad, 1, 1)], images.transpose(tuple(range(1, images.ndim)) + (0,)))
        elif any(self.pad):
            padded = self.buffer("padded", self._padded_shape(n), zero=True)
            np.copyto(padded[interior(self.pad, 2)], images)
        else:
            padded = images
        view = self._windows(padded)
        per_group = self.rows_k // groups
        shape = (groups, per_group + int(ones_row), self.grid_size * n)
        name = "cols+ones" if ones_row else "cols"
        cols = self._scratch.get((name, shape))
        if cols is None:
            cols = self.buffer(name, shape)
            cols[:, per_group:] = 1  # never overwritten below
        split = (groups, self.channels // groups) + view.shape[1:]
        np.copyto(cols[:, :per_group].reshape(split), view.reshape(split))
        if reuse:
            snapshot = self.buffer("snapshot", images.shape)
            np.copyto(snapshot, images)
            self._kept = (key, snapshot, cols)
        return cols

    def col2im(self, cols, out, bias=None):
        """Sum columns ``(C*K, M)`` back into images, written to ``out (n, C, *S)`` (+ bias per channel)."""
        n = out.shape[0]
        in_place = not self.batch_last and not any(self.pad)
        if in_place:
            padded = out
        else:
            padded = self.buffer("col2im", self._padded_shape(n))
        padded.fill(0)
        view = self._windows(padded)
        accumulate_windows(view, cols.reshape(view.shape), 1, self.kernel)
        nd = len(self.kernel)
        if self.batch_last:
            src = padded[interior(self.pad, 1, 1)].transpose((nd + 1,) + tuple(range(nd + 1)))
        else:
            src = padded[interior(self.pad, 2)]
        if bias is not None:
            np.add(src, bias.reshape((-1,) + (1,) * nd), out=out)
        elif not in_place:
            np.copyto(out, src)
        return out

    def rows(self, outputs):
        """Conv-output images ``(n, C_out, *grid)`` as batch-last GEMM rows ``(C_out, L*n)``
        (scratch).  Batch-major columns need no rows: there one GEMM per image reads and
        writes the blob itself."""
        n, c_out = outputs.shape[:2]
        rows = self.buffer("rows", (c_out, self.grid_size, n))
        np.copyto(rows, outputs.reshape(n, c_out, self.grid_size).transpose(1, 2, 0))
        return rows.reshape(c_out, -1)

    def rows_to_outputs(self, rows, out, bias=None):
        """Batch-last GEMM rows ``(C_out, L*n)`` into conv-output images ``out (n, C_out, *grid)`` (+ bias)."""
        n, c_out = out.shape[:2]
        src = rows.reshape(c_out, self.grid_size, n).transpose(2, 0, 1)
        flat = out.reshape(n, c_out, self.grid_size)
        if bias is None:
            np.copyto(flat, src)
        else:
            np.add(src, bias[:, None], out=flat)
        return out
