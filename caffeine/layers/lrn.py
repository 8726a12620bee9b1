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
"""
import numpy as np

from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer

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
        np.subtract(cs[:, size - 1:], np.concatenate([np.zeros_like(cs[:, :1]), cs[:, :channels - 1]],
                                                    axis=1), out=out)
        if nonneg:  # a sum of squares: clamp the cancellation error of the difference
            np.maximum(out, 0, out=out)
    return out


def _box_sum(padded, height, width, size, out):
    """out[..., h, w] = sum of padded[..., h:h+size, w:w+size] (separable: rows, then columns)."""
    rows = padded[..., :height, :].copy()
    for i in range(1, size):
        np.add(rows, padded[..., i:i + height, :], out=rows)
    np.copyto(out, rows[..., :width])
    for j in range(1, size):
        np.add(out, rows[..., j:j + width], out=out)
    return out


@register_layer("LRN")
class LRNLayer(Layer):
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
        if b.num_axes != 4:
            raise self.error("input must have 4 axes, corresponding to (num, channels, height, width)",
                             cls=ShapeError, blob=b.name, expected=4, found=b.num_axes)
        top[0].reshape(b.shape)

    def _buffer(self, name, shape, zero=False):
        """A work array kept between calls (no page faults on every pass); padding stays 0."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != tuple(shape) or buf.dtype != self.dtype:
            buf = self._buffers[name] = (np.zeros if zero else np.empty)(shape, dtype=self.dtype)
        return buf

    def _window_sum(self, values_into, out, nonneg=False):
        """S(v) where ``values_into(center)`` writes v into the centre of a zero-padded buffer."""
        n, c, h, w = out.shape
        p = self.pre_pad
        if self.across:
            padded = self._buffer("padded", (n, c + 2 * p, h, w), zero=True)
            values_into(padded[:, p:p + c])
            return _channel_window_sum(padded, c, self.size, out, nonneg)
        padded = self._buffer("padded", (n, c, h + 2 * p, w + 2 * p), zero=True)
        values_into(padded[:, :, p:p + h, p:p + w])
        return _box_sum(padded, h, w, self.size, out)

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly
        scale = self._buffer("scale", x.shape)
        self._window_sum(lambda center: np.multiply(x, x, out=center), scale, nonneg=True)
        scale *= self.coef
        scale += self.shift
        scale_pow = self._buffer("scale_pow", x.shape)
        np.power(scale, -self.beta, out=scale_pow)
        np.multiply(x, scale_pow, out=top[0].data)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].host_data_readonly
        y = top[0].host_data_readonly
        dy = top[0].host_diff_readonly
        scale = self._buffer("scale", x.shape)
        scale_pow = self._buffer("scale_pow", x.shape)

        def ratio(center):  # Caffe's padded_ratio: top_diff * top_data / scale
            np.multiply(dy, y, out=center)
            np.divide(center, scale, out=center)

        acc = self._buffer("accum", x.shape)
        self._window_sum(ratio, acc)
        acc *= x
        acc *= -2.0 * self.coef * self.beta
        dx = bottom[0].diff
        np.multiply(dy, scale_pow, out=dx)
        dx += acc
