"""Convolution, Deconvolution and Im2col on the GPU: im2col.cu kernels + cuBLAS GEMM.

A block of ``nb`` images is handled at once.  Its column matrix is ``(C_in*K, nb*L)``
(row ``(c, k)``, column ``(b, o)``; for nb = 1 exactly Caffe's buffer), the conv-output
side is ``rows (C_out, nb*L)``, and per group one GEMM (``cupy.matmul`` -> cuBLAS) does
what Caffe's forward_gpu_gemm / backward_gpu_gemm / weight_gpu_gemm do per image:

    rows = W @ cols        cols = W^T @ rows        dW += rows @ cols^T

``images_to_rows`` / ``rows_to_images`` (with the bias) move between the blob layout
``(nb, C, L)`` and the rows.  Names follow base_conv: the "image" is the conv input (bottom
of a Convolution, top of a Deconvolution), the "grid" the conv output.
"""
import math
import types

from caffeine.cuda_layers.launch import cp, data_ro, device_ints, diff_ro, i32, run, work

# Elements of the column matrix per block of images (128 MiB of float32).
GPU_COLUMN_BUDGET = 1 << 25


def _block(layer):
    per_image = layer.conv_in_channels * layer.kernel_size * layer.grid_size
    return max(1, min(layer.num, GPU_COLUMN_BUDGET // max(1, per_image)))


def _geometry_args(layer):
    if layer.num_spatial_axes == 2:
        (h, w), (oh, ow) = layer.image_spatial, layer.grid_spatial
        return (i32(h), i32(w), i32(layer.kernel[0]), i32(layer.kernel[1]), i32(layer.pad[0]),
                i32(layer.pad[1]), i32(layer.stride[0]), i32(layer.stride[1]), i32(layer.dilation[0]),
                i32(layer.dilation[1]), i32(oh), i32(ow))
    geom = device_ints(layer, "conv_geom", layer.image_spatial + layer.grid_spatial + tuple(layer.kernel)
                       + tuple(layer.pad) + tuple(layer.stride) + tuple(layer.dilation))
    return (i32(layer.num_spatial_axes), geom)


def im2col(layer, images, cols):
    """images (nb, C_in, *image_spatial) -> cols (C_in*K, nb*L)."""
    nb, channels = images.shape[0], layer.conv_in_channels
    n = channels * nb * layer.grid_size
    name = "im2col_2d" if layer.num_spatial_axes == 2 else "im2col_nd"
    run("im2col", name, n, images, i32(nb), i32(channels), *_geometry_args(layer), cols, dtype=layer.dtype)
    return cols


def col2im(layer, cols, images):
    """cols (C_in*K, nb*L) summed back into images (nb, C_in, *image_spatial) (overwritten)."""
    nb, channels = images.shape[0], layer.conv_in_channels
    n = images.size
    name = "col2im_2d" if layer.num_spatial_axes == 2 else "col2im_nd"
    run("im2col", name, n, cols, i32(nb), i32(channels), *_geometry_args(layer), images, dtype=layer.dtype)
    return images


def images_to_rows(layer, images, rows):
    nb, channels = images.shape[0], images.shape[1]
    run("im2col", "images_to_rows", images.size, images, i32(nb), i32(channels), i32(layer.grid_size), rows,
        dtype=layer.dtype)
    return rows


def rows_to_images(layer, rows, images, bias=None):
    nb, channels = images.shape[0], images.shape[1]
    run("im2col", "rows_to_images", images.size, rows, i32(nb), i32(channels), i32(layer.grid_size),
        bias if bias is not None else rows, i32(bias is not None), images, dtype=layer.dtype)
    return images


def _groups(layer, weight):
    g = layer.group
    return weight.reshape(g, layer.conv_out_channels // g, -1)


def _per_group(layer, weight, cols, rows):
    """(W_g, cols_g, rows_g) per group: its weights (C_out/g, C_in/g*K), its rows of the
    column matrix (C_in/g*K) and of the conv-output rows (C_out/g); all views."""
    w = _groups(layer, weight)
    kg = cols.shape[0] // layer.group
    og = rows.shape[0] // layer.group
    for g in range(layer.group):
        yield w[g], cols[g * kg:(g + 1) * kg], rows[g * og:(g + 1) * og]


def _w_times(layer, weight, cols, rows):
    """rows (C_out, M) = W @ cols per group."""
    xp = cp()
    for w, c, r in _per_group(layer, weight, cols, rows):
        xp.matmul(w, c, out=r)
    return rows


def _wt_times(layer, weight, rows, cols):
    """cols (C_in*K, M) = W^T @ rows per group."""
    xp = cp()
    for w, c, r in _per_group(layer, weight, cols, rows):
        xp.matmul(w.T, r, out=c)
    return cols


def _accumulate_weight_diff(layer, rows, cols):
    """dW += rows @ cols^T per group (in place in the weight blob's diff)."""
    xp = cp()
    for dw, c, r in _per_group(layer, layer.blobs[0].gpu_diff, cols, rows):
        dw += xp.matmul(r, c.T)


def _images(layer, array):
    """(num, C, *spatial) view of a blob's gpu_data/gpu_diff."""
    axis = layer.channel_axis
    return array.reshape((layer.num, array.shape[axis]) + array.shape[axis + 1:])


def _buffers(layer, nb):
    m = nb * layer.grid_size
    cols = work(layer, "cols", (layer.conv_in_channels * layer.kernel_size, m), layer.dtype)
    rows = work(layer, "rows", (layer.conv_out_channels, m), layer.dtype)
    return cols, rows


def _blocks(layer):
    """(n0, n1, cols, rows) per batch block: images n0..n1 and the column and row buffers
    sized for them."""
    block = _block(layer)
    for n0 in range(0, layer.num, block):
        n1 = min(layer.num, n0 + block)
        cols, rows = (_sized(buf, n1 - n0, layer) for buf in _buffers(layer, block))
        yield n0, n1, cols, rows


def _bias(layer):
    return layer.blobs[1].gpu_data if layer.bias_term else None


def _accumulate_bias_diff(layer, top_diff):
    bdiff = layer.blobs[1].gpu_diff
    bdiff += top_diff.reshape(top_diff.shape[0], layer.num_output, -1).sum(axis=(0, 2))


def _bias_wanted(layer):
    return layer.bias_term and layer.param_propagate_down[1]


def _backward_pairs(layer, top, propagate_down, bottom):
    """Per (top, bottom) pair: accumulate the bias diff from the top diff, then, where the
    weights or this bottom want a gradient, yield (dy, x, dx) as image views (dx is None
    where propagate_down is off)."""
    want_w = layer.param_propagate_down[0]
    for i, (t, b) in enumerate(zip(top, bottom)):
        dy = _images(layer, diff_ro(t))
        if _bias_wanted(layer):
            _accumulate_bias_diff(layer, dy)
        if not (want_w or propagate_down[i]):
            continue
        x = _images(layer, data_ro(b))
        dx = _images(layer, b.gpu_diff) if propagate_down[i] else None
        yield dy, x, dx


def _sized(buf, nb, layer):
    """The first nb*L columns of a (rows, block*L) buffer, contiguous (a prefix per row is not),
    so the last, smaller block uses a reshaped prefix of the same memory."""
    m = nb * layer.grid_size
    if buf.shape[1] == m:
        return buf
    return buf.reshape(-1)[:buf.shape[0] * m].reshape(buf.shape[0], m)


# ---- Convolution ---------------------------------------------------------------------------
def conv_forward_gpu(layer, bottom, top):
    weight = data_ro(layer.blobs[0])
    bias = _bias(layer)
    for b, t in zip(bottom, top):
        x, y = _images(layer, data_ro(b)), _images(layer, t.gpu_data)
        for n0, n1, cols, rows in _blocks(layer):
            im2col(layer, x[n0:n1], cols)
            _w_times(layer, weight, cols, rows)
            rows_to_images(layer, rows, y[n0:n1], bias)


def conv_backward_gpu(layer, top, propagate_down, bottom):
    want_w = layer.param_propagate_down[0]
    weight = data_ro(layer.blobs[0])
    for dy, x, dx in _backward_pairs(layer, top, propagate_down, bottom):
        for n0, n1, cols, rows in _blocks(layer):
            images_to_rows(layer, dy[n0:n1], rows)
            if want_w:
                _accumulate_weight_diff(layer, rows, im2col(layer, x[n0:n1], cols))
            if dx is not None:
                col2im(layer, _wt_times(layer, weight, rows, cols), dx[n0:n1])


# ---- Deconvolution: the same three GEMMs, the other way round ---------------------------
def deconv_forward_gpu(layer, bottom, top):
    weight = data_ro(layer.blobs[0])
    bias = _bias(layer)
    for b, t in zip(bottom, top):
        x, y = _images(layer, data_ro(b)), _images(layer, t.gpu_data)
        for n0, n1, cols, rows in _blocks(layer):
            images_to_rows(layer, x[n0:n1], rows)
            col2im(layer, _wt_times(layer, weight, rows, cols), y[n0:n1])
            if bias is not None:
                out = y[n0:n1]
                run("im2col", "add_channel_bias", out.size, bias, i32(layer.num_output),
                    i32(math.prod(layer.image_spatial)), out, dtype=layer.dtype)


def deconv_backward_gpu(layer, top, propagate_down, bottom):
    want_w = layer.param_propagate_down[0]
    weight = data_ro(layer.blobs[0])
    for dy, x, dx in _backward_pairs(layer, top, propagate_down, bottom):
        for n0, n1, cols, rows in _blocks(layer):
            im2col(layer, dy[n0:n1], cols)
            if want_w:
                _accumulate_weight_diff(layer, images_to_rows(layer, x[n0:n1], rows), cols)
            if dx is not None:
                rows_to_images(layer, _w_times(layer, weight, cols, rows), dx[n0:n1])


# ---- Im2col layer: Caffe's column buffer per image -----------------------------------------
def _im2col_geometry(layer, bottom):
    """The Im2col layer's geometry under the names the helpers above use (kept on the layer)."""
    spatial = tuple(bottom[0].shape[layer.channel_axis + 1:])
    geo = layer.__dict__.get("_gpu_geometry")
    if geo is None or geo.key != (spatial, layer.num, layer.dtype):
        geo = layer._gpu_geometry = types.SimpleNamespace(
            key=(spatial, layer.num, layer.dtype), num=layer.num, dtype=layer.dtype,
            num_spatial_axes=layer.num_spatial_axes, image_spatial=spatial,
            grid_spatial=tuple(layer.out_shape), kernel=tuple(layer.kernel), pad=tuple(layer.pad),
            stride=tuple(layer.stride), dilation=tuple(layer.dilation), conv_in_channels=layer.channels,
            kernel_size=math.prod(layer.kernel), grid_size=math.prod(layer.out_shape))
    return geo


def im2col_layer_forward_gpu(layer, bottom, top):
    """top (N, C*K, *out): one im2col launch over the batch, then (C*K, N, L) -> (N, C*K, L)."""
    geo = _im2col_geometry(layer, bottom)
    x = data_ro(bottom[0]).reshape((geo.num, geo.conv_in_channels) + geo.image_spatial)
    cols = work(geo, "cols", (geo.conv_in_channels * geo.kernel_size, geo.num * geo.grid_size), geo.dtype)
    im2col(geo, x, cols)
    out = top[0].gpu_data.reshape(geo.num, -1, geo.grid_size)
    out[...] = cols.reshape(cols.shape[0], geo.num, geo.grid_size).transpose(1, 0, 2)


def im2col_layer_backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    geo = _im2col_geometry(layer, bottom)
    dy = diff_ro(top[0]).reshape(geo.num, -1, geo.grid_size)
    cols = work(geo, "cols", (geo.conv_in_channels * geo.kernel_size, geo.num * geo.grid_size), geo.dtype)
    cols.reshape(cols.shape[0], geo.num, geo.grid_size)[...] = dy.transpose(1, 0, 2)
    dx = bottom[0].gpu_diff.reshape((geo.num, geo.conv_in_channels) + geo.image_spatial)
    col2im(geo, cols, dx)
