"""Caffe's DataTransformer on the device (data_transform.cu).

``transform_gpu(transformer, batch, rng, out)`` makes the same random choices as
``DataTransformer.transform`` (``transformer.draw``, same generator calls), copies the uint8
batch to the device once (through a pinned staging buffer, on a side stream when given),
and writes crop/mirror/mean/scale into ``out`` (a device array (N, C, crop, crop) or the
whole batch size).  Float batches (float_data Datums) are transformed on the host.
"""
import numpy as np

from caffeine.cuda_layers.launch import cp, i32, run


class DeviceTransformer:
    """The device-side state for one DataTransformer: mean on the device, pinned staging."""

    def __init__(self, transformer):
        self.t = transformer
        self._mean = None
        self._pinned = None

    def _mean_args(self, c):
        t = self.t
        if t.mean is not None:
            mode, host = 1, np.ascontiguousarray(t.mean, dtype=np.float32)
        elif t.mean_values is not None:
            mode, host = 2, np.ascontiguousarray(t.mean_values, dtype=np.float32)
        else:
            mode, host = 0, np.zeros(1, dtype=np.float32)
        if self._mean is None:
            self._mean = cp().asarray(host)  # uploaded once
        return i32(mode), self._mean, i32(host.size)

    def _stage(self, batch, stream=None):
        """One host->device copy of the uint8 batch, through pinned memory."""
        xp = cp()
        nbytes = batch.nbytes
        if self._pinned is None or self._pinned[1] < nbytes:
            mem = xp.cuda.alloc_pinned_memory(nbytes)
            self._pinned = (np.frombuffer(mem, dtype=np.uint8, count=nbytes), nbytes, mem)
        staging = self._pinned[0][:nbytes]
        staging[...] = batch.reshape(-1).view(np.uint8)
        device = xp.empty(batch.shape, dtype=np.uint8)
        device.set(staging.reshape(batch.shape), stream=stream)
        return device

    def transform(self, batch, rng, out, stream=None):
        t = self.t
        n, c, h, w = batch.shape
        if batch.dtype != np.uint8:
            out[...] = cp().asarray(t.transform(batch, rng))
            return out
        t.check_shape((c, h, w))
        h_off, w_off, mirror = t.draw(n, h, w, rng)
        crop = t.crop_size
        ch, cw = (crop, crop) if crop else (h, w)
        xp = cp()
        choices = xp.asarray(np.stack([h_off, w_off, mirror]).astype(np.int32))  # one small upload
        device = self._stage(np.ascontiguousarray(batch), stream)
        run("data_transform", "transform_uint8", out.size, device, i32(c), i32(h), i32(w), i32(ch), i32(cw),
            choices[0], choices[1], choices[2], *self._mean_args(c), np.float32(t.scale), out,
            dtype=out.dtype)
        return out


def transform_gpu(transformer, batch, rng, out, stream=None):
    """Transform a uint8 N x C x H x W host batch into the device array ``out``."""
    device = transformer.__dict__.get("_device_transformer")
    if device is None:
        device = transformer._device_transformer = DeviceTransformer(transformer)
    return device.transform(batch, rng, out, stream)
