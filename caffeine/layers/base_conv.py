"""BaseConvolution: what Convolution and Deconvolution share (Caffe's BaseConvolutionLayer).

Parameters are parsed exactly as BaseConvolutionLayer::LayerSetUp does.  The maths is
Caffe's im2col + GEMM, but over a block of images at once: ``conv_utils.BlockColumns``
builds the ``(C_in*K, M)`` column matrix of ``n`` images (``M`` = n x output
positions) and one GEMM per group (``np.matmul`` on contiguous arrays, i.e. BLAS)
does the whole block.  Blocks keep that matrix near ``COLUMN_BUDGET`` elements so it
stays in cache; small outputs use the batch-last column order, large ones the
batch-major order (see BlockColumns).  A 1x1 kernel with stride 1 and no padding
skips im2col: the images themselves are the columns.

"conv input" is the image im2col reads (the bottom of a Convolution, the top of a
Deconvolution); "conv output" is the column grid (top of a Convolution, bottom of a
Deconvolution).  With ``C_out`` the conv-output channels, the weight is
``(C_out, C_in/group, *kernel)`` and the three GEMMs are
``out = W @ col`` (forward_cpu_gemm), ``col = W^T @ out`` (backward_cpu_gemm) and
``dW += out @ col^T`` (weight_cpu_gemm).
"""
import math

import numpy as np

from caffeine import fillers
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import conv_utils
from caffeine.layers.base import Layer

# Elements of the column matrix per block of images (4 MiB of float32) ...
COLUMN_BUDGET = 1 << 20
# ... unless the whole batch fits in this many: then one block, and backward reuses the
# forward's columns when the bottom has not changed in between.
WHOLE_BATCH_BUDGET = 1 << 23
# Outputs with at most this many positions use the batch-last column order.
BATCH_LAST_MAX_GRID = 256
# Backward-data as a flipped stride-1 convolution: None = when the cost model says so.
TRANSPOSED_BACKWARD = None


def _per_axis(layer, cp, name, num_spatial, default, h_name=None, w_name=None):
    """One ConvolutionParameter geometry field: repeated ``name`` or the 2-D ``name_h/_w``."""
    if h_name is not None and (cp.HasField(h_name) or cp.HasField(w_name)):
        if num_spatial != 2:
            raise layer.error(f"{h_name} & {w_name} can only be used for 2D convolution",
                              field=h_name, expected="2 spatial axes", found=num_spatial)
        if len(getattr(cp, name)):
            raise layer.error(f"either {name} or {h_name}/{w_name} should be specified; not both",
                              field=name)
        return (int(getattr(cp, h_name)), int(getattr(cp, w_name)))
    values = list(getattr(cp, name))
    allowed = (1, num_spatial) if default is None else (0, 1, num_spatial)
    if len(values) not in allowed:
        raise layer.error(f"{name} must be specified once, or once per spatial dimension",
                          field=name, expected=f"{' or '.join(str(a) for a in sorted(set(allowed)))} values "
                          f"({num_spatial} spatial axes)", found=len(values))
    if not values:
        return (default,) * num_spatial
    return tuple(int(values[0 if len(values) == 1 else i]) for i in range(num_spatial))


def parse_geometry(layer, cp, num_spatial):
    """(kernel, stride, pad, dilation) tuples from a ConvolutionParameter, with Caffe's checks."""
    kernel = _per_axis(layer, cp, "kernel_size", num_spatial, None, "kernel_h", "kernel_w")
    if any(k <= 0 for k in kernel):
        raise layer.error("filter dimensions must be nonzero", field="kernel_size",
                          expected="> 0", found=kernel)
    stride = _per_axis(layer, cp, "stride", num_spatial, 1, "stride_h", "stride_w")
    if any(s <= 0 for s in stride):
        raise layer.error("stride dimensions must be nonzero", field="stride", expected="> 0", found=stride)
    pad = _per_axis(layer, cp, "pad", num_spatial, 0, "pad_h", "pad_w")
    dilation = _per_axis(layer, cp, "dilation", num_spatial, 1)
    if any(d <= 0 for d in dilation):  # Caffe does not check; 0 would silently mean 1
        raise layer.error("dilation must be positive", field="dilation", expected="> 0", found=dilation)
    return kernel, stride, pad, dilation


def channel_axis_of(layer, blob, axis):
    try:
        return blob.canonical_axis_index(axis)
    except ConfigError as exc:
        raise exc.with_context(layer=layer.name, layer_type=layer.type, field="axis") from None


class BaseConvolution(Layer):
    min_bottom = 1
    min_top = 1
    equal_num_bottom_top = True
    reverse_dimensions = False  # Deconvolution: the conv runs from top to bottom

    # ---- Caffe's LayerSetUp ---------------------------------------------------------
    def setup(self, bottom, top):
        cp = self.layer_param.convolution_param
        self.force_nd_im2col = cp.force_nd_im2col  # accepted; the N-D code path serves every case
        self.channel_axis = channel_axis_of(self, bottom[0], cp.axis)
        self.num_spatial_axes = bottom[0].num_axes - self.channel_axis - 1
        self.kernel, self.stride, self.pad, self.dilation = parse_geometry(self, cp, self.num_spatial_axes)
        # im2col is the identity for a 1x1 kernel with stride 1 and no padding
        self.is_1x1 = all(k == 1 and s == 1 and p == 0 for k, s, p in zip(self.kernel, self.stride, self.pad))
        self.channels = bottom[0].shape[self.channel_axis]
        self.num_output = int(cp.num_output)
        if self.num_output <= 0:
            raise self.error("num_output must be positive", field="num_output", expected="> 0",
                             found=self.num_output)
        self.group = int(cp.group)
        if self.group <= 0:
            raise self.error("group must be positive", field="group", expected="> 0", found=self.group)
        if self.channels % self.group:
            raise self.error("input channels must be a multiple of group", field="group",
                             expected=f"channels divisible by {self.group}", found=self.channels)
        if self.num_output % self.group:
            raise self.error("number of output should be multiples of group", field="num_output",
                             expected=f"a multiple of {self.group}", found=self.num_output)
        if self.reverse_dimensions:
            self.conv_out_channels, self.conv_in_channels = self.channels, self.num_output
        else:
            self.conv_out_channels, self.conv_in_channels = self.num_output, self.channels
        weight_shape = (self.conv_out_channels, self.conv_in_channels // self.group) + self.kernel
        self.bias_term = bool(cp.bias_term)
        self.blobs = [self.new_blob(*weight_shape)]
        fillers.fill(self.blobs[0], cp.weight_filler, self.rng)
        if self.bias_term:
            self.blobs.append(self.new_blob(self.num_output))
            fillers.fill(self.blobs[1], cp.bias_filler, self.rng)
        self.kernel_size = math.prod(self.kernel)
        self.param_propagate_down = [True] * len(self.blobs)

    # ---- Caffe's Reshape ------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def reshape(self, bottom, top):
        first_spatial = self.channel_axis + 1
        if bottom[0].num_axes != first_spatial + self.num_spatial_axes:
            raise self.error("bottom num_axes may not change", cls=ShapeError,
                             expected=first_spatial + self.num_spatial_axes, found=bottom[0].num_axes)
        if bottom[0].shape[self.channel_axis] != self.channels:
            raise self.error("input size incompatible with convolution kernel: channel count changed",
                             cls=ShapeError, expected=self.channels, found=bottom[0].shape[self.channel_axis])
        for i, b in enumerate(bottom[1:], 1):
            if b.shape != bottom[0].shape:
                raise self.error(f"all inputs must have the same shape (bottom {i})", cls=ShapeError,
                                 blob=b.name, expected=bottom[0].shape, found=b.shape)
        self.num = bottom[0].count(0, self.channel_axis)
        in_spatial = bottom[0].shape[first_spatial:]
        out_spatial = self.compute_output_shape(in_spatial)
        top_shape = bottom[0].shape[:self.channel_axis] + (self.num_output,) + tuple(out_spatial)
        for t in top:
            t.reshape(top_shape)
        if self.reverse_dimensions:
            self.image_spatial, self.grid_spatial = tuple(out_spatial), tuple(in_spatial)
        else:
            self.image_spatial, self.grid_spatial = tuple(in_spatial), tuple(out_spatial)
        self.grid_size = math.prod(self.grid_spatial)
        geometry = (self.num, self.image_spatial, self.dtype)
        if getattr(self, "_geometry", None) != geometry:
            self._geometry = geometry
            self.columns = conv_utils.BlockColumns(
                self.conv_in_channels, self.image_spatial, self.kernel, self.stride, self.pad, self.dilation,
                batch_last=self.grid_size <= BATCH_LAST_MAX_GRID, dtype=self.dtype)
            self.transposed_columns = self._transposed_columns()
        per_image = self.conv_in_channels * self.kernel_size * self.grid_size
        if self.transposed_columns is not None:
            per_image = max(per_image, self.transposed_columns.rows_k * self.transposed_columns.grid_size)
        if self.num * per_image <= WHOLE_BATCH_BUDGET:
            self.block = max(1, self.num)
        else:
            self.block = max(1, min(self.num, COLUMN_BUDGET // max(1, per_image)))

    def _transposed_columns(self):
        """Columns for computing conv-input images as a stride-1 convolution of conv-output
        images with the flipped, transposed kernel (pad' = dilation*(kernel-1) - pad).

        That turns col2im's scattered adds into im2col's copies.  Used only where a rough
        cost model (GEMM flops at ~80 GFLOP/s, an add ~1 ns, a copy ~0.4 ns) says it saves
        20%, e.g. "same" 5x5 convolutions with as many inputs as outputs (CIFAR10 conv2,
        ~10% faster backward); never for "valid" convolutions, where the flipped form
        would also multiply the zeros of its padding.
        """
        if self.is_1x1 or any(s != 1 for s in self.stride):
            return None
        pad_t = tuple(d * (k - 1) - p for k, p, d in zip(self.kernel, self.pad, self.dilation))
        if any(p < 0 for p in pad_t):
            return None
        image_size = math.prod(self.image_spatial)
        flops = 2 * self.conv_in_channels * self.conv_out_channels * self.kernel_size / self.group
        col2im_cost = 0.0125 * flops * self.grid_size + 1.0 * self.conv_in_channels * self.kernel_size * self.grid_size
        conv_cost = 0.0125 * flops * image_size + 0.4 * self.conv_out_channels * self.kernel_size * image_size
        if not (conv_cost < 0.8 * col2im_cost if TRANSPOSED_BACKWARD is None else TRANSPOSED_BACKWARD):
            return None
        return conv_utils.BlockColumns(self.conv_out_channels, self.grid_spatial, self.kernel, self.stride,
                                       pad_t, self.dilation, batch_last=image_size <= BATCH_LAST_MAX_GRID,
                                       dtype=self.dtype)

    # ---- helpers --------------------------------------------------------------------
    def _blocks(self):
        for n0 in range(0, self.num, self.block):
            yield n0, min(self.num, n0 + self.block)

    def _images(self, blob, data=True):
        """(num, C, *spatial) view of a bottom/top blob's data or diff."""
        arr = blob.data if data else blob.diff
        return arr.reshape((self.num, arr.shape[self.channel_axis]) + arr.shape[self.channel_axis + 1:])

    def _weight_groups(self):
        w = self.blobs[0].data
        return w.reshape(self.group, self.conv_out_channels // self.group, -1)

    # ---- GEMM operands ---------------------------------------------------------------
    # Columns and rows are grouped matrices in one of two forms:
    # - stacked (1x1 kernels and batch-major columns): one matrix per image, columns
    #   (n, group, C_in/g*K, L) and rows (n, group, C_out/g, L); the rows are the conv-output
    #   blob itself, so the GEMMs read and write blobs with no transposes;
    # - flat (batch-last columns): columns (group, C_in/g*K, L*n), rows (group, C_out/g, L*n).
    def _forward_columns(self):
        return None if self.is_1x1 else self.columns

    def _columns_of(self, columns, images, ones_row=False, reuse=False):
        """Grouped im2col of ``images (n, C, *S)`` through a BlockColumns (None: 1x1 kernel);
        ``ones_row`` appends a row of ones per group (bias folded into the GEMM); ``reuse``
        lets a forward's columns serve the backward (only when one block covers the batch)."""
        n, g = images.shape[0], self.group
        if columns is None:
            return images.reshape(n, g, -1, self.grid_size)
        cols = columns.im2col(images, g, ones_row, reuse=reuse and self.block == self.num)
        if columns.batch_last:
            return cols
        return cols.reshape(g, -1, n, columns.grid_size).transpose(2, 0, 1, 3)

    def _fold_bias(self, columns):
        """Whether the bias rides in the GEMM as an extra weight column (needs im2col columns)."""
        return self.bias_term and columns is not None and not self.reverse_dimensions

    def _weights_with_bias(self):
        """Grouped weights with the bias appended as a last column: ``(group, C_out/g, Kd + 1)``."""
        g = self.group
        return np.concatenate([self._weight_groups(), self.blobs[1].data.reshape(g, -1, 1)], axis=2)

    def _rows(self, outputs):
        """Conv-output images ``(n, C_out, *grid)`` as grouped GEMM rows."""
        n, g = outputs.shape[0], self.group
        if self.is_1x1 or not self.columns.batch_last:
            return outputs.reshape(n, g, self.conv_out_channels // g, self.grid_size)
        rows = self.columns.rows(outputs)
        return rows.reshape(g, -1, rows.shape[-1])

    @staticmethod
    def _add_bias(out, bias):
        if bias is not None:
            flat = out.reshape(out.shape[0], out.shape[1], -1)
            flat += bias[:, None]

    def _gemm_to_outputs(self, columns, weights, cols, out, bias=None):
        """``out (n, C, *grid) = weights @ cols (+ bias)`` (Caffe's forward_cpu_gemm + bias)."""
        n, c = out.shape[:2]
        if columns is None or not columns.batch_last:
            np.matmul(weights, cols, out=out.reshape(n, self.group, c // self.group, -1))
            self._add_bias(out, bias)
        else:
            columns.rows_to_outputs(np.matmul(weights, cols).reshape(c, -1), out, bias)
        return out

    def _backward_gemm(self, rows, out, bias=None):
        """``out (n, C_in, *image) = col2im(W^T @ rows) (+ bias)`` (Caffe's backward_cpu_gemm)."""
        wt = self._weight_groups().transpose(0, 2, 1)
        n, g = out.shape[0], self.group
        if self.is_1x1:
            np.matmul(wt, rows, out=out.reshape(n, g, -1, self.grid_size))
            self._add_bias(out, bias)
            return out
        columns = self.columns
        if columns.batch_last:
            cols = np.matmul(wt, rows)
        else:
            cols = columns.buffer("dcol", (columns.rows_k, n, columns.grid_size))
            np.matmul(wt, rows, out=cols.reshape(g, -1, n, columns.grid_size).transpose(2, 0, 1, 3))
        return columns.col2im(cols.reshape(columns.rows_k, -1), out, bias)

    def _backward_data(self, outputs, rows, out, bias=None):
        """Conv-input images ``out`` from conv-output images ``outputs`` (Caffe's
        backward_cpu_gemm); ``rows`` are ``outputs`` as GEMM rows, or None."""
        tc = self.transposed_columns
        if tc is None:
            return self._backward_gemm(self._rows(outputs) if rows is None else rows, out, bias)
        g = self.group
        w = self.blobs[0].data.reshape((g, self.conv_out_channels // g, self.conv_in_channels // g) + self.kernel)
        flipped = np.flip(w, axis=tuple(range(3, 3 + self.num_spatial_axes))).swapaxes(1, 2)
        flipped = np.ascontiguousarray(flipped).reshape(g, self.conv_in_channels // g, -1)
        return self._gemm_to_outputs(tc, flipped, self._columns_of(tc, outputs), out, bias)

    def _accumulate_weight_diff(self, rows, cols, with_bias=False):
        """dW += rows @ cols^T; with ``with_bias`` the columns carry a ones row and its
        product, the rows summed over every position, is the bias gradient."""
        # dW^T = col @ rows^T: OpenBLAS runs this orientation ~30% faster than rows @ col^T
        grad_t = np.matmul(cols, np.swapaxes(rows, -1, -2))
        if grad_t.ndim == 4:  # stacked: per-image products, summed over the batch
            grad_t = grad_t.sum(axis=0)
        if with_bias:
            if self.param_propagate_down[1]:
                self.blobs[1].diff[...] += grad_t[:, -1, :].reshape(-1)
            grad_t = grad_t[:, :-1, :]
        diff = self.blobs[0].diff.reshape(self.group, self.conv_out_channels // self.group, -1)
        diff += np.swapaxes(grad_t, -1, -2)

    def _bias(self):
        return self.blobs[1].data if self.bias_term else None

    def _accumulate_bias_diff(self, top_diff):
        """Bias gradient: the top diff summed over the batch and every spatial position."""
        # a GEMV with a ones vector, as Caffe's bias_multiplier (twice as fast as ndarray.sum)
        n = top_diff.shape[0]
        spatial = math.prod(top_diff.shape[2:])
        ones = getattr(self, "_ones", None)
        if ones is None or ones.shape[0] != spatial or ones.dtype != top_diff.dtype:
            ones = self._ones = np.ones(spatial, top_diff.dtype)
        per_image = top_diff.reshape(n * self.num_output, spatial) @ ones
        self.blobs[1].diff[...] += per_image.reshape(n, self.num_output).sum(axis=0)

    def _bias_wanted(self):
        return self.bias_term and self.param_propagate_down[1]

    def _backward_pairs(self, top, propagate_down, bottom, bias_diff=True):
        """Per (top, bottom) pair: accumulate the bias diff (when bias_diff and it is wanted),
        then, where the weights or this bottom want a gradient, yield (dy, x, dx) as image
        views (dx is None where propagate_down is off)."""
        want_w = self.param_propagate_down[0]
        for i, (t, b) in enumerate(zip(top, bottom)):
            dy = self._images(t, data=False)
            if bias_diff and self._bias_wanted():
                self._accumulate_bias_diff(dy)
            if not (want_w or propagate_down[i]):
                continue
            x = self._images(b)
            dx = self._images(b, data=False) if propagate_down[i] else None
            yield dy, x, dx
