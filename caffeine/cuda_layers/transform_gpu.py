"""Caffe's DataTransformer on the device (layers_cuda/data_transform.cu).

``DeviceTransformer(transformer)`` keeps a DataTransformer's mean on the device (uploaded
once) and launches ``transform_uint8``: a raw uint8 batch already on the device, plus the
random choices ``DataTransformer.prepare`` drew for it (h_off, w_off, mirror: the same
generator calls as the host ``transform``), becomes crop / mirror / (x - mean) * scale in
the output array.  ``window_launch`` does WindowData's variant (``window_uint8``: a warped
canvas, the rectangle its patch covers, the mean file's centre crop).  The data layers
feed both through ``caffeine.cuda_layers.data_gpu``; ``transform_gpu`` is the one-shot
form for a host batch (two uploads; tests and tools).
"""
import numpy as np

from caffeine.cuda_layers.launch import cp, i32, run

MEAN_NONE, MEAN_FILE, MEAN_VALUES = 0, 1, 2


def _device_mean(owner, mean_file, mean_values):
    """(mode, device mean, count) for a kernel's mean arguments; uploaded on first use."""
    entry = owner.__dict__.get("_device_mean")
    if entry is None:
        if mean_file is not None:
            mode, host = MEAN_FILE, np.ascontiguousarray(mean_file, dtype=np.float32)
        elif mean_values is not None:
            mode, host = MEAN_VALUES, np.ascontiguousarray(np.ravel(mean_values), dtype=np.float32)
        else:
            mode, host = MEAN_NONE, np.zeros(1, dtype=np.float32)
        entry = owner._device_mean = (i32(mode), cp().asarray(host), i32(host.size))
    return entry


class DeviceTransformer:
    """The device side of one DataTransformer."""

    def __init__(self, transformer):
        self.t = transformer

    def launch(self, pixels, choices, out):
        """``pixels``: device uint8 (N, C, H, W); ``choices``: device int32 (3, N) rows
        h_off, w_off, mirror; ``out``: device (N, C, h, w) float32/float64, contiguous."""
        t = self.t
        n, c, h, w = pixels.shape
        crop = t.crop_size
        ch, cw = (crop, crop) if crop else (h, w)
        if out.shape != (n, c, ch, cw):
            raise ValueError(f"transform output shape {out.shape}, expected {(n, c, ch, cw)}")
        run("data_transform", "transform_uint8", out.size, pixels, i32(c), i32(h), i32(w),
            i32(ch), i32(cw), choices[0], choices[1], choices[2],
            *_device_mean(self, t.mean, t.mean_values), np.float32(t.scale), out,
            dtype=out.dtype)
        return out


def device_transformer(transformer):
    """The DeviceTransformer of ``transformer`` (made once, kept on it)."""
    device = transformer.__dict__.get("_device_transformer")
    if device is None:
        device = transformer._device_transformer = DeviceTransformer(transformer)
    return device


def window_launch(owner, pixels, rects, mean_crop, mean_values, scale, out):
    """WindowData: ``pixels`` device uint8 (N, C, S, S) canvas, ``rects`` device int32 (4, N)
    rows top, left, height, width; ``mean_crop`` the C×S×S centre crop of the mean file
    (or None), ``mean_values`` per channel (or None); ``owner`` keeps the device mean."""
    n, c, size, _ = pixels.shape
    run("data_transform", "window_uint8", out.size, pixels, i32(c), i32(size), rects,
        *_device_mean(owner, mean_crop, mean_values), np.float32(scale), out, dtype=out.dtype)
    return out


def transform_gpu(transformer, batch, rng, out):
    """Transform a host batch into the device array ``out`` (the draws of ``transform``).

    Float batches are transformed on the host and uploaded; uint8 ones are uploaded raw
    with their random choices and transformed by the kernel.
    """
    xp = cp()
    batch, h_off, w_off, mirror = transformer.prepare(batch, rng)
    if batch.dtype != np.uint8:
        out[...] = xp.asarray(transformer.apply(batch, h_off, w_off, mirror))
        return out
    choices = xp.asarray(np.stack([h_off, w_off, mirror]).astype(np.int32))
    pixels = xp.asarray(np.ascontiguousarray(batch))
    return device_transformer(transformer).launch(pixels, choices, out)
