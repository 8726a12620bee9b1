"""Local Response Normalization (Caffe's LRNLayer), both regions.

Both regions compute ``top = x * scale^-beta`` with ``scale = k' + a' * S(x^2)`` where S sums
a window of squared inputs with zero padding (local_size - 1) / 2 on each side:

- ACROSS_CHANNELS: S sums ``local_size`` neighbouring channels; k' = k, a' = alpha / local_size.
- WITHIN_CHANNEL: Caffe builds split -> square -> AVE pooling (kernel local_size, pad
  (local_size - 1) / 2, stride 1) -> power(shift 1, scale alpha, power -beta) -> product.
  With that geometry every window's AVE divisor (clipped to image + pad) is exactly
  local_size^2, so the pooling is S / local_size^2: k' = 1 (``k`` is unused, as in Caffe),
  a' = alpha / local_size^2.

The window is symmetric, so the backward pass (Caffe's CrossChannelBackward) uses the same
window sum:  dx = dy * scale^-beta - 2 a' beta x * S(dy * top / scale).

The work runs over cache-sized blocks (~256 KB per array, or one sample when a sample is
larger: groups of samples for ACROSS_CHANNELS, of planes for WITHIN_CHANNEL), so the padded
squares and window sums stay in cache and each blob crosses memory about once per pass.
"""
import numpy as np

from caffeine.cuda_layers import lrn_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import require_nchw
from caffeine.layers.base import Layer

CHUNK_BYTES = 1 << 18
# Above this many channels in a window, sum it with a cumulative sum (two passes and a
# clamp against rounding) instead of one add per channel in the window.
_CUMSUM_ABOVE = 11


def _channel_window_sum(padded, channels, size, out, nonneg):
    """out[:, c] = sum(padded[:, c : c + size]) for c < channels (padded has channels+size-1)."""
    if size == 1:
        np.copyto(out, padded[:, :channels])
    elif size <= _CUMSUM_ABOVE:
        np.add(padded[:, :channels], padded[:, 1:channels + 1], out=out)
        for i in range(2, size):
            np.add(out, padded[:, i:i + channels], out=out)
    else:
        cs = np.cumsum(padded, axis=1)
        np.copyto(out[:, :1], cs[:, size - 1:size])
        np.subtract(cs[:, size:size + channels - 1], cs[:, :channels - 1], out=out[:, 1:])
        if nonneg:  # a sum of squares: clamp the cancellation error of the difference
            np.maximum(out, 0, out=out)
    return out


def _box_sum(padded, height, width, size, out, rows):
    """out[:, h, w] = sum of padded[:, h:h+size, w:w+size] (separable: rows, then columns)."""
    np.copyto(rows, padded[:, :height, :])
    for i in range(1, size):
        np.add(rows, padded[:, i:i + height, :], out=rows)
    np.copyto(out, rows[:, :, :width])
    for j in range(1, size):
        np.add(out, rows[:, :, j:j + width], out=out)
    return out


@register_layer("LRN")
class LRNLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1

    def setup(self, bottom, top):
        p = self.layer_param.lrn_param
        self.size = int(p.local_size)
        if self.size % 2 != 1:
            raise self.error("LRN only supports odd values for local_size", field="local_size",
                             expected="an odd number", found=self.size)
        self.pre_pad = (self.size - 1) // 2
        self.alpha, self.beta, self.k = float(p.alpha), float(p.beta), float(p.k)
        regions = self.caffe_pb2.LRNParameter
        if p.norm_region not in (regions.ACROSS_CHANNELS, regions.WITHIN_CHANNEL):
            raise self.error("unknown norm_region", field="norm_region",
                             expected="ACROSS_CHANNELS or WITHIN_CHANNEL", found=p.norm_region)
        self.across = p.norm_region == regions.ACROSS_CHANNELS
        if self.across:
            self.shift, self.coef = self.k, self.alpha / self.size
        else:
            self.shift, self.coef = 1.0, self.alpha / (self.size * self.size)
        self._buffers = {}

    def reshape(self, bottom, top):
        b = bottom[0]
        require_nchw(self, b)
        top[0].reshape(b.shape)

    # ---- blocks and work buffers ---------------------------------------------------------
    def _buffer(self, name, shape, zero=False):
        """A work array kept between calls; a zeroed one keeps its zero border (only the centre
        is ever written)."""
        key = (name, tuple(shape))
        buf = self._buffers.get(key)
        if buf is None or buf.dtype != self.dtype:
            buf = self._buffers[key] = (np.zeros if zero else np.empty)(shape, dtype=self.dtype)
        return buf

    def _view(self, arr):
        """(N, C, H*W) for ACROSS_CHANNELS (blocks of samples / positions), (N*C, H, W) for
        WITHIN_CHANNEL (blocks of planes)."""
        n, c, h, w = arr.shape
        return arr.reshape(n, c, h * w) if self.across else arr.reshape(n * c, h, w)

    def _blocks(self, shape):
        n, c, h, w = shape
        item = self.dtype.itemsize
        if not self.across:
            m = max(1, CHUNK_BYTES // (h * w * item))
            return [slice(i, i + m) for i in range(0, n * c, m)]
        # whole samples per block (contiguous: numpy's fast loops), one when a sample is large
        m = max(1, CHUNK_BYTES // (c * h * w * item))
        return [(slice(i, i + m),) for i in range(0, n, m)]

    def _window_sum(self, fill_centre, out):
        """out = S(v) over one block, where ``fill_centre(centre)`` writes v into the centre of
        a zero-padded work buffer."""
        p = self.pre_pad
        if self.across:
            m, c, b = out.shape
            padded = self._buffer("padded", (m, c + 2 * p, b), zero=True)
            fill_centre(padded[:, p:p + c])
            return _channel_window_sum(padded, c, self.size, out, fill_centre.nonneg)
        m, h, w = out.shape
        padded = self._buffer("padded", (m, h + 2 * p, w + 2 * p), zero=True)
        fill_centre(padded[:, p:p + h, p:p + w])
        return _box_sum(padded, h, w, self.size, out, self._buffer("rows", (m, h, w + 2 * p)))

    # ---- forward / backward --------------------------------------------------------------
    def forward_cpu(self, bottom, top):
        x = self._view(bottom[0].host_data_readonly)
        y = self._view(top[0].data)
        scale = self._view(self._buffer("scale", bottom[0].shape))
        scale_pow = self._view(self._buffer("scale_pow", bottom[0].shape))
        for blk in self._blocks(bottom[0].shape):
            xb, sb, pb = x[blk], scale[blk], scale_pow[blk]

            def squares(centre, xb=xb):
                np.multiply(xb, xb, out=centre)
            squares.nonneg = True
            self._window_sum(squares, sb)
            sb *= self.coef
            sb += self.shift
            np.power(sb, -self.beta, out=pb)
            np.multiply(xb, pb, out=y[blk])

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = self._view(bottom[0].host_data_readonly)
        y = self._view(top[0].host_data_readonly)
        dy = self._view(top[0].host_diff_readonly)
        dx = self._view(bottom[0].diff)
        scale = self._view(self._buffer("scale", bottom[0].shape))
        scale_pow = self._view(self._buffer("scale_pow", bottom[0].shape))
        for blk in self._blocks(bottom[0].shape):
            def ratio(centre, blk=blk):  # Caffe's padded_ratio: top_diff * top_data / scale
                np.multiply(dy[blk], y[blk], out=centre)
                np.divide(centre, scale[blk], out=centre)
            ratio.nonneg = False
            acc = self._window_sum(ratio, self._buffer("accum", x[blk].shape))
            acc *= x[blk]
            acc *= -2.0 * self.coef * self.beta
            np.multiply(dy[blk], scale_pow[blk], out=dx[blk])
            np.add(dx[blk], acc, out=dx[blk])

    def forward_gpu(self, bottom, top):
        lrn_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        lrn_gpu.backward_gpu(self, top, propagate_down, bottom)
