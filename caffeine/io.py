"""pycaffe's ``caffe.io``: image loading, the input Transformer and proto/array converters.

Same names, arguments and results as pycaffe (which used scikit-image); here OpenCV
does the decoding and resizing.  ``load_image`` returns float32 RGB H×W×C in [0, 1];
``Transformer.preprocess`` turns that into the net's C×H×W input.
"""
import numpy as np

from caffeine.errors import ConfigError, DataError

try:
    import cv2
except ImportError:  # pragma: no cover - opencv is a hard dependency
    cv2 = None

# skimage.color.rgb2gray's weights, which pycaffe's load_image(color=False) used
_GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)


# ---------------------------------------------------------------------- proto <-> array
def blobproto_to_array(blob, return_diff=False):
    """A BlobProto's data (or diff) as an array, honouring the legacy num/channels/h/w."""
    if return_diff:
        values = blob.double_diff if len(blob.double_diff) else blob.diff
    else:
        values = blob.double_data if len(blob.double_data) else blob.data
    dtype = np.float64 if (len(blob.double_diff) if return_diff else len(blob.double_data)) \
        else np.float32
    arr = np.asarray(values, dtype=dtype)
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return arr.reshape(blob.num, blob.channels, blob.height, blob.width)
    return arr.reshape(tuple(blob.shape.dim))


def array_to_blobproto(arr, diff=None):
    """A BlobProto with ``shape`` and float data (and diff) from an N-D array."""
    from caffeine.proto import caffe_pb2
    arr = np.asarray(arr)
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend(arr.shape)
    blob.data.extend(arr.astype(np.float32, copy=False).ravel())
    if diff is not None:
        blob.diff.extend(np.asarray(diff, dtype=np.float32).ravel())
    return blob


def arraylist_to_blobprotovector_str(arraylist):
    """A serialized BlobProtoVector of the arrays."""
    from caffeine.proto import caffe_pb2
    vec = caffe_pb2.BlobProtoVector()
    for arr in arraylist:
        vec.blobs.add().CopyFrom(array_to_blobproto(arr))
    return vec.SerializeToString()


def blobprotovector_str_to_arraylist(text):
    from caffeine.proto import caffe_pb2
    vec = caffe_pb2.BlobProtoVector()
    vec.ParseFromString(text)
    return [blobproto_to_array(b) for b in vec.blobs]


def array_to_datum(arr, label=None):
    """A Datum from a C×H×W array: uint8 → ``data`` bytes, anything else → ``float_data``."""
    from caffeine.proto import caffe_pb2
    arr = np.asarray(arr)
    if arr.ndim != 3:
        raise ConfigError("array_to_datum needs a C x H x W array", expected="3 axes",
                          found=arr.ndim)
    datum = caffe_pb2.Datum(channels=arr.shape[0], height=arr.shape[1], width=arr.shape[2])
    if arr.dtype == np.uint8:
        datum.data = arr.tobytes()
    else:
        datum.float_data.extend(arr.astype(np.float32, copy=False).ravel())
    if label is not None:
        datum.label = int(label)
    return datum


def datum_to_array(datum):
    """C×H×W array of a (non-encoded) Datum: uint8 from ``data``, float from ``float_data``."""
    shape = (datum.channels, datum.height, datum.width)
    if datum.encoded:
        from caffeine.data.transformer import decode_datum
        return decode_datum(datum)
    if len(datum.data):
        return np.frombuffer(datum.data, dtype=np.uint8).reshape(shape)
    return np.asarray(datum.float_data, dtype=np.float32).reshape(shape)


# ---------------------------------------------------------------------- images
def load_image(filename, color=True):
    """Load an image as float32 H×W×3 RGB (color) or H×W×1 (gray) in [0, 1] (pycaffe)."""
    raw = cv2.imread(str(filename), cv2.IMREAD_UNCHANGED)
    if raw is None:
        import os
        what = "does not exist" if not os.path.exists(filename) else "is not a readable image"
        raise DataError(f"image '{filename}' {what}", file=str(filename))
    if raw.dtype == np.uint16:
        img = raw.astype(np.float32) / 65535.0
    elif raw.dtype == np.uint8:
        img = raw.astype(np.float32) / 255.0
    else:
        img = raw.astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, None]
    elif img.shape[2] == 4:
        img = img[:, :, :3]          # drop alpha, as pycaffe
    if img.shape[2] == 3:
        img = img[:, :, ::-1]        # OpenCV's BGR -> RGB
    if color:
        if img.shape[2] == 1:
            img = np.tile(img, (1, 1, 3))
        return np.ascontiguousarray(img)
    if img.shape[2] == 3:
        img = (img @ _GRAY_WEIGHTS)[:, :, None]
    return np.ascontiguousarray(img, dtype=np.float32)


_INTERP = {0: "INTER_NEAREST", 1: "INTER_LINEAR", 2: "INTER_CUBIC", 3: "INTER_CUBIC"}


def resize_image(im, new_dims, interp_order=1):
    """Resize H×W×K ``im`` to ``new_dims`` (height, width); order 0 nearest, 1 linear, ≥2 cubic."""
    im = np.asarray(im)
    h, w = int(new_dims[0]), int(new_dims[1])
    if im.shape[:2] == (h, w):
        return im.astype(np.float32)
    flag = getattr(cv2, _INTERP.get(int(interp_order), "INTER_CUBIC"))
    src = im.astype(np.float32)
    squeeze = src.ndim == 2
    if squeeze:
        src = src[:, :, None]
    # cv2.resize handles up to 512 channels; do wider stacks in slices
    parts = [cv2.resize(src[:, :, k:k + 512], (w, h), interpolation=flag)
             for k in range(0, src.shape[2], 512)]
    parts = [p[:, :, None] if p.ndim == 2 else p for p in parts]
    out = np.concatenate(parts, axis=2)
    return out[:, :, 0] if squeeze else out


def oversample(images, crop_dims):
    """The 10 crops of each image: 4 corners + center, and their mirrors (pycaffe's order)."""
    images = [np.asarray(im) for im in images]
    im_shape = np.array(images[0].shape)
    crop_dims = np.array(crop_dims)
    ch, cw = int(crop_dims[0]), int(crop_dims[1])
    centre = im_shape[:2] / 2.0
    starts = [(0, 0), (0, im_shape[1] - cw), (im_shape[0] - ch, 0), (im_shape[0] - ch, im_shape[1] - cw),
              (int(centre[0] - ch / 2.0), int(centre[1] - cw / 2.0))]
    crops = np.empty((10 * len(images), ch, cw, im_shape[-1]), dtype=np.float32)
    stack = np.stack(images).astype(np.float32, copy=False)
    for k, (y, x) in enumerate(starts):
        block = stack[:, y:y + ch, x:x + cw, :]
        crops[k::10] = block
        crops[k + 5::10] = block[:, :, ::-1, :]
    return crops


# ---------------------------------------------------------------------- Transformer
class Transformer:
    """Turn images into a net's inputs and back (pycaffe's caffe.io.Transformer).

    ``inputs``: {name: (N, C, H, W)}.  preprocess = resize to H×W, transpose, channel
    swap, ×raw_scale, −mean, ×input_scale; deprocess undoes it.
    """

    def __init__(self, inputs):
        self.inputs = {k: tuple(v) for k, v in inputs.items()}
        self.transpose = {}
        self.channel_swap = {}
        self.raw_scale = {}
        self.mean = {}
        self.input_scale = {}

    def __check_input(self, in_):
        if in_ not in self.inputs:
            raise ConfigError(f"{in_} is not one of the net inputs: {list(self.inputs)}",
                              blob=in_, expected=list(self.inputs), found=in_)

    def preprocess(self, in_, data):
        self.__check_input(in_)
        caffe_in = np.asarray(data).astype(np.float32, copy=True)
        in_dims = self.inputs[in_][2:]
        if caffe_in.shape[:2] != tuple(in_dims):
            caffe_in = resize_image(caffe_in, in_dims)
        if in_ in self.transpose:
            caffe_in = caffe_in.transpose(self.transpose[in_])
        if in_ in self.channel_swap:
            caffe_in = caffe_in[list(self.channel_swap[in_]), :, :]
        if in_ in self.raw_scale:
            caffe_in *= self.raw_scale[in_]
        if in_ in self.mean:
            caffe_in -= self.mean[in_]
        if in_ in self.input_scale:
            caffe_in *= self.input_scale[in_]
        return np.ascontiguousarray(caffe_in, dtype=np.float32)

    def deprocess(self, in_, data):
        self.__check_input(in_)
        decaf_in = np.array(data, dtype=np.float32).squeeze()
        if in_ in self.input_scale:
            decaf_in /= self.input_scale[in_]
        if in_ in self.mean:
            decaf_in += self.mean[in_]
        if in_ in self.raw_scale:
            decaf_in /= self.raw_scale[in_]
        if in_ in self.channel_swap:
            decaf_in = decaf_in[np.argsort(self.channel_swap[in_]), :, :]
        if in_ in self.transpose:
            decaf_in = decaf_in.transpose(np.argsort(self.transpose[in_]))
        return decaf_in

    def set_transpose(self, in_, order):
        """Order of the input's axes, e.g. (2, 0, 1) for H×W×C → C×H×W."""
        self.__check_input(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise ConfigError("transpose order needs as many axes as the input has",
                              blob=in_, expected=len(self.inputs[in_]) - 1, found=len(order))
        self.transpose[in_] = tuple(order)

    def set_channel_swap(self, in_, order):
        """Channel order, e.g. (2, 1, 0) for RGB → BGR (applied after transpose)."""
        self.__check_input(in_)
        if len(order) != self.inputs[in_][1]:
            raise ConfigError("channel swap needs as many channels as the input has",
                              blob=in_, expected=self.inputs[in_][1], found=len(order))
        self.channel_swap[in_] = tuple(order)

    def set_raw_scale(self, in_, scale):
        """Scale of the raw features (e.g. 255 for [0, 1] images → Caffe's [0, 255])."""
        self.__check_input(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_, mean):
        """Mean to subtract: per channel (C,) or a C×H×W array (resized when the size differs)."""
        self.__check_input(in_)
        mean = np.asarray(mean, dtype=np.float32)
        in_shape = tuple(self.inputs[in_][1:])
        if mean.ndim == 1:
            if mean.shape[0] != in_shape[0]:
                raise ConfigError("Mean channels incompatible with input.", blob=in_,
                                  expected=in_shape[0], found=mean.shape[0])
            mean = mean[:, None, None]
        else:
            if mean.ndim == 2:
                mean = mean[None]
            if mean.ndim != 3:
                raise ConfigError("Mean shape invalid", blob=in_, expected="C x H x W",
                                  found=mean.shape)
            if mean.shape[0] != in_shape[0]:
                raise ConfigError("Mean shape incompatible with input shape.", blob=in_,
                                  expected=in_shape, found=mean.shape)
            if mean.shape != in_shape:
                # pycaffe: rescale the mean to [0, 1], resize, and scale back
                lo, hi = float(mean.min()), float(mean.max())
                span = hi - lo if hi > lo else 1.0
                resized = resize_image(((mean - lo) / span).transpose(1, 2, 0), in_shape[1:])
                if resized.ndim == 2:
                    resized = resized[:, :, None]
                mean = resized.transpose(2, 0, 1) * span + lo
        self.mean[in_] = mean

    def set_input_scale(self, in_, scale):
        """Scale applied after mean subtraction (e.g. 0.017 for some nets)."""
        self.__check_input(in_)
        self.input_scale[in_] = scale
