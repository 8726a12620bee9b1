"""Caffe's DataTransformer (TransformationParameter), vectorized over a whole batch.

Per item Caffe computes, for every output element (c, h, w)::

    src   = datum[c, h_off + h, w_off + w]                 (uint8 or float_data)
    out   = (src - mean[c, h_off + h, w_off + w]) * scale  (mean_file), or
            (src - mean_value[c]) * scale                  (mean_value), or  src * scale
    top[c, h, mirror ? width-1-w : w] = out

with ``h_off, w_off`` uniform in ``[0, H - crop]`` in TRAIN and ``(H - crop) // 2`` in
TEST, and mirror drawn with probability 1/2 in TRAIN only when ``mirror`` is set
(Caffe draws it in TEST too; ``mirror: true`` in a TEST net is rare and Caffe's own
transformer mirrors there as well, so we keep that).  Encoded Datums are decoded with
``cv2.imdecode`` (native channels, or forced colour/gray) into C×H×W BGR.
"""
import numpy as np

from caffeine.errors import DataError, LayerConfigError

try:
    import cv2
except ImportError:  # pragma: no cover - opencv is a hard dependency
    cv2 = None


def load_mean_file(path, layer=None):
    """A mean ``.binaryproto`` as a float32 C×H×W array (the first item of its num axis)."""
    import os

    from caffeine.proto.io import blob_shape, read_blobproto

    if not os.path.exists(path):
        raise DataError(f"mean_file '{path}' does not exist", file=path, layer=layer,
                        field="mean_file")
    proto = read_blobproto(path)
    shape = blob_shape(proto)
    values = np.asarray(proto.data if len(proto.data) else proto.double_data, dtype=np.float32)
    if int(np.prod(shape)) != values.size:
        raise DataError(f"mean_file '{path}' holds {values.size} values for shape {shape}",
                        file=path, layer=layer)
    if len(shape) == 4:
        return values.reshape(shape)[0]
    if len(shape) == 3:
        return values.reshape(shape)
    if len(shape) == 2:
        return values.reshape((1,) + tuple(shape))
    raise DataError(f"mean_file '{path}' has shape {shape}", file=path, layer=layer,
                    expected="C x H x W (or 1 x C x H x W)", found=shape)


def decode_datum(datum, force_color=False, force_gray=False):
    """A Datum's pixels as a C×H×W array: uint8 for ``data``, float32 for ``float_data``."""
    if datum.encoded:
        buf = np.frombuffer(datum.data, dtype=np.uint8)
        flag = cv2.IMREAD_COLOR if force_color else cv2.IMREAD_GRAYSCALE if force_gray \
            else cv2.IMREAD_UNCHANGED
        img = cv2.imdecode(buf, flag)
        if img is None:
            raise DataError("could not decode an encoded Datum (corrupt JPEG/PNG?)")
        return img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    c, h, w = datum.channels, datum.height, datum.width
    if len(datum.data):
        arr = np.frombuffer(datum.data, dtype=np.uint8)
    else:
        arr = np.asarray(datum.float_data, dtype=np.float32)
    if arr.size != c * h * w:
        raise DataError(f"Datum holds {arr.size} values but says {c}x{h}x{w}",
                        expected=c * h * w, found=arr.size)
    return arr.reshape(c, h, w)


class DataTransformer:
    """Caffe's DataTransformer for one layer; ``transform(batch, rng)`` does a whole batch."""

    def __init__(self, param, phase, layer=None, layer_type=None, source_dir=None):
        from caffeine.proto import caffe_pb2
        self.param = param
        self.train = phase == caffe_pb2.TRAIN
        self.layer = layer
        self.layer_type = layer_type
        self.scale = float(param.scale)
        self.crop_size = int(param.crop_size)
        self.mirror = bool(param.mirror)
        self.force_color = bool(param.force_color)
        self.force_gray = bool(param.force_gray)
        if self.force_color and self.force_gray:
            raise self._error("cannot set both force_color and force_gray", field="force_color")
        if param.mean_file and len(param.mean_value):
            raise self._error("cannot specify mean_file and mean_value at the same time",
                              field="mean_value")
        if self.crop_size < 0:
            raise self._error("crop_size must be >= 0", field="crop_size", found=self.crop_size)
        self.mean = None           # C×H×W array (mean_file)
        self.mean_values = None    # per-channel vector (mean_value)
        if param.mean_file:
            from caffeine.paths import resolve_path
            self.mean = load_mean_file(resolve_path(param.mean_file, source_dir), layer)
        elif len(param.mean_value):
            self.mean_values = np.asarray(param.mean_value, dtype=np.float32)

    def _error(self, msg, cls=LayerConfigError, **kw):
        return cls(msg, layer=self.layer, layer_type=self.layer_type, **kw)

    def decode(self, datum):
        """C×H×W array of a Datum with force_color/force_gray applied (encoded only)."""
        return decode_datum(datum, self.force_color, self.force_gray)

    def output_shape(self, chw):
        """Transformed item shape (C, H', W') for an input item of shape ``chw``."""
        c, h, w = chw
        if self.crop_size:
            return (c, self.crop_size, self.crop_size)
        return (c, h, w)

    def check_shape(self, chw):
        c, h, w = chw
        if c <= 0:
            raise self._error("datum has no channels", cls=DataError, found=chw)
        if self.crop_size and (h < self.crop_size or w < self.crop_size):
            raise self._error(f"crop_size {self.crop_size} is larger than the {h}x{w} input",
                              cls=DataError, field="crop_size", expected=f"<= {min(h, w)}",
                              found=self.crop_size)
        if self.mean is not None and self.mean.shape != (c, h, w):
            raise self._error("mean_file shape does not match the data", cls=DataError,
                              field="mean_file", expected=(c, h, w), found=self.mean.shape)
        if self.mean_values is not None and self.mean_values.size not in (1, c):
            raise self._error(f"specify either 1 mean_value or as many as channels ({c})",
                              field="mean_value", expected=f"1 or {c}",
                              found=self.mean_values.size)

    def draw(self, n, height, width, rng):
        """Random choices for n items: (h_off, w_off, mirror flags), as Caffe's Rand calls."""
        mirror = rng.integers(0, 2, size=n).astype(bool) if self.mirror \
            else np.zeros(n, dtype=bool)
        crop = self.crop_size
        if crop and self.train:
            h_off = rng.integers(0, height - crop + 1, size=n)
            w_off = rng.integers(0, width - crop + 1, size=n)
        elif crop:
            h_off = np.full(n, (height - crop) // 2)
            w_off = np.full(n, (width - crop) // 2)
        else:
            h_off = np.zeros(n, dtype=np.int64)
            w_off = np.zeros(n, dtype=np.int64)
        return h_off, w_off, mirror

    def transform(self, batch, rng, out=None):
        """Transform N×C×H×W (uint8 or float) into float32 N×C×h×w; ``rng``: numpy Generator.

        A list of C×H×W arrays of different sizes is accepted too (crop then equalizes).
        """
        return self.apply(*self.prepare(batch, rng), out)

    def prepare(self, batch, rng):
        """(N×C×H×W batch, h_off, w_off, mirror): transform's random choices, nothing computed.

        ``apply`` of the result is ``transform``; the GPU data path ships the raw batch and
        these choices to the device instead (same generator calls, so the same batch).
        Items of different sizes are cropped here (zero offsets are returned).
        """
        if isinstance(batch, (list, tuple)):
            shapes = {a.shape for a in batch}
            if len(shapes) == 1:
                batch = np.stack(batch)
            else:
                return self._prepare_ragged(batch, rng)
        n, c, h, w = batch.shape
        self.check_shape((c, h, w))
        h_off, w_off, mirror = self.draw(n, h, w, rng)
        return batch, h_off, w_off, mirror

    def apply(self, batch, h_off, w_off, mirror, out=None):
        """The deterministic part of Transform given the random choices (vectorized).

        Cropping and mirroring move bytes, so they are done on the raw (uint8) data
        before the one float pass ``(x - mean) * scale``; the mean_file crop is
        mirrored with its item, which is the same as mirroring after subtracting.
        """
        n, c, h, w = batch.shape
        crop = self.crop_size
        mean = self.mean
        source = batch
        if crop and (h != crop or w != crop):
            batch = _crop_batch(batch, h_off, w_off, crop)
            if mean is not None:
                mean = _crop_batch(np.broadcast_to(mean, (n, c, h, w)), h_off, w_off, crop)
        if mirror.any():
            flip = np.nonzero(mirror)[0]
            if batch is source or not batch.flags.writeable:
                batch = batch.copy()
            batch[flip] = batch[flip][..., ::-1]
            if mean is not None:
                mean = np.array(np.broadcast_to(mean, batch.shape))
                mean[flip] = mean[flip][..., ::-1]
        if mean is None and self.mean_values is not None:
            mean = self.mean_values.reshape(-1, 1, 1) if self.mean_values.size == c \
                else self.mean_values[0]
        if out is None:
            out = np.empty(batch.shape, np.float32)
        if mean is not None:
            np.subtract(batch, mean, out=out, dtype=np.float32, casting="unsafe")
        else:
            out[...] = batch
        if self.scale != 1.0:
            out *= np.float32(self.scale)
        return out

    def _prepare_ragged(self, items, rng):
        """Items of different H×W (encoded images): crop each; the batch is then uniform."""
        if not self.crop_size:
            shapes = sorted({a.shape for a in items})
            raise self._error("images in one batch have different sizes and no crop_size is set",
                              cls=DataError, expected="one size (set crop_size or resize)",
                              found=", ".join("x".join(map(str, s)) for s in shapes[:4]))
        crop = self.crop_size
        mirror = rng.integers(0, 2, size=len(items)).astype(bool) if self.mirror \
            else np.zeros(len(items), dtype=bool)
        cropped = []
        for a in items:
            self.check_shape(a.shape)
            _, h, w = a.shape
            if self.train:
                ho, wo = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            else:
                ho, wo = (h - crop) // 2, (w - crop) // 2
            cropped.append(a[:, ho:ho + crop, wo:wo + crop])
        zeros = np.zeros(len(items), dtype=np.int64)
        return np.stack(cropped), zeros, zeros, mirror


def _crop_batch(x, h_off, w_off, crop):
    """x[i, :, h_off[i]:h_off[i]+crop, w_off[i]:w_off[i]+crop] for all i at once."""
    n = x.shape[0]
    if np.all(h_off == h_off[0]) and np.all(w_off == w_off[0]):
        ho, wo = int(h_off[0]), int(w_off[0])
        return np.ascontiguousarray(x[:, :, ho:ho + crop, wo:wo + crop])
    # windows[i, c, y, x] is the crop×crop patch at (y, x); pick one patch per item
    windows = np.lib.stride_tricks.sliding_window_view(x, (crop, crop), axis=(2, 3))
    return windows[np.arange(n), :, h_off, w_off]


def mean_blobproto(mean):
    """A mean file's BlobProto for a C×H×W mean: legacy 1×C×H×W dims, as compute_image_mean."""
    from caffeine.proto import caffe_pb2
    mean = np.asarray(mean, dtype=np.float32)
    c, h, w = mean.shape
    blob = caffe_pb2.BlobProto(num=1, channels=c, height=h, width=w)
    blob.data.extend(mean.ravel())
    return blob


def write_mean_file(path, mean):
    """Write a C×H×W mean as ``.binaryproto`` (atomically)."""
    from caffeine.proto.io import write_blobproto
    write_blobproto(mean_blobproto(mean), path)
