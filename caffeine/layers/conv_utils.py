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
- batch-last: ``(C*K, L*n)`` with the batch as the fastest axis, used by the
  convolution layers so one GEMM covers a whole block of images and the copies
  run over long contiguous stretches (``out_w * n`` elements) instead of one row.
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


# ---- batch-last layout used by the convolution layers --------------------------------
def to_batch_last(x, pad, out):
    """``x (n, C, *S)`` -> ``out (C, *(S + 2 pad), n)``; the border of ``out`` must be zero already."""
    nd = x.ndim - 2
    np.copyto(out[interior(pad, lead=1, trail=1)], x.transpose(tuple(range(1, nd + 2)) + (0,)))
    return out


def from_batch_last(buf, pad, out, bias=None):
    """``buf (C, *(S + 2 pad), n)`` cropped and transposed into ``out (n, C, *S)``, plus a
    per-channel bias when given."""
    nd = buf.ndim - 2
    src = buf[interior(pad, lead=1, trail=1)].transpose((nd + 1,) + tuple(range(nd + 1)))
    if bias is None:
        np.copyto(out, src)
    else:
        np.add(src, bias.reshape((-1,) + (1,) * nd), out=out)
    return out


def im2col_batch_last(padded, kernel, stride, dilation, out_shape, out):
    """``padded (C, *Sp, n)`` -> ``out`` viewed as ``(C, *kernel, *out_shape, n)``.

    Row ``(c, k...)``, column ``(o..., i)`` of the ``(C*K, L*n)`` matrix is Caffe's
    ``col[(c, k...), (o...)]`` of image ``i``.
    """
    view = window_view(padded, 1, kernel, stride, dilation, out_shape)
    np.copyto(out.reshape(view.shape), view)
    return out


def col2im_batch_last(cols, padded, kernel, stride, dilation, out_shape):
    """Sum ``(C*K, L*n)`` columns into ``padded (C, *Sp, n)`` (which must start zeroed)."""
    view = window_view(padded, 1, kernel, stride, dilation, out_shape)
    accumulate_windows(view, cols.reshape(view.shape), 1, kernel)
    return padded
