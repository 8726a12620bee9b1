"""WindowData layer: R-CNN's foreground/background windows (Caffe's WindowDataLayer).

Window file (``window_data_param.source``), repeated per image::

    # image_index
    img_path
    channels
    height
    width
    num_windows
    class_index overlap x1 y1 x2 y2     (num_windows lines, inclusive pixel boxes)

Windows with ``overlap >= fg_threshold`` are foreground (label = class_index > 0),
those with ``overlap < bg_threshold`` background (label 0).  Each batch holds
``batch_size - int(batch_size * fg_fraction)`` background windows followed by the
foreground ones, drawn uniformly.  A window is grown by ``context_pad`` (and made
square with ``crop_mode: "square"``), clipped to the image, warped with INTER_LINEAR
to ``crop_size`` (its part outside the image stays zero), mirrored at random, and
then ``(pixel - mean) * scale`` with the mean's centre crop (mean_file) or
mean_value, exactly as Caffe's InternalThreadEntry.  In GPU mode the warped uint8
windows and their rectangles go to the device and that arithmetic runs there
(``window_uint8`` in layers_cuda/data_transform.cu).
"""
import logging
import math
import os

import numpy as np

from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base_data import BasePrefetchingDataLayer
from caffeine.paths import resolve_path

try:
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None

log = logging.getLogger("caffeine")


def _cround(x):
    """C's round(): halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def parse_window_file(path, fg_threshold, bg_threshold, root_folder="", layer=None):
    """(images [(path, (c, h, w))], fg windows, bg windows); windows are
    (image index, label, overlap, x1, y1, x2, y2) rows."""
    if not os.path.isfile(path):
        raise DataError(f"window file '{path}' does not exist", file=path, layer=layer,
                        field="source")
    tokens = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            tokens.extend((tok, number) for tok in line.split())
    if not tokens:
        raise DataError(f"window file '{path}' is empty", file=path, layer=layer)
    pos = 0

    def take(kind, what):
        nonlocal pos
        if pos >= len(tokens):
            raise DataError(f"window file '{path}' ends early: expected {what}", file=path,
                            line=tokens[-1][1], layer=layer)
        tok, number = tokens[pos]
        pos += 1
        try:
            return kind(tok)
        except ValueError:
            raise DataError(f"window file '{path}': expected {what}", file=path, line=number,
                            layer=layer, expected=what, found=tok) from None

    images, index_of, fg, bg = [], {}, [], []
    while pos < len(tokens):
        tag, number = tokens[pos]
        if tag != "#":
            raise DataError(f"window file '{path}': expected '# image_index'", file=path,
                            line=number, layer=layer, expected="#", found=tag)
        pos += 1
        image_index = take(int, "an image index")
        image_path = root_folder + take(str, "an image path")
        size = (take(int, "channels"), take(int, "height"), take(int, "width"))
        index_of[image_index] = len(images)
        images.append((image_path, size))
        for _ in range(take(int, "the number of windows")):
            line = tokens[pos][1] if pos < len(tokens) else number
            label, overlap = take(int, "a class index"), take(float, "an overlap")
            box = [take(int, "a box coordinate") for _ in range(4)]
            if overlap >= fg_threshold:
                if label <= 0:
                    raise DataError(f"window file '{path}': a foreground window needs a class "
                                    "index > 0", file=path, line=line, layer=layer,
                                    expected="> 0", found=label)
                fg.append([len(images) - 1, label, overlap] + box)
            elif overlap < bg_threshold:
                bg.append([len(images) - 1, 0, 0.0] + box)   # background: label and overlap 0
    return images, fg, bg


@register_layer("WindowData")
class WindowDataLayer(BasePrefetchingDataLayer):
    exact_num_top = 2
    min_top = None
    max_top = None
    legacy_param_name = "window_data_param"

    def data_setup(self, top):
        p = self.layer_param.window_data_param
        tp = self.transform_param
        self.batch_size = int(p.batch_size)
        if self.batch_size <= 0:
            raise self.error("batch_size must be positive", field="batch_size", expected="> 0",
                             found=self.batch_size)
        self.crop_size = int(tp.crop_size)
        if self.crop_size <= 0:
            raise self.error("WindowData needs transform_param.crop_size > 0", field="crop_size",
                             expected="> 0", found=self.crop_size)
        self.context_pad = int(p.context_pad)
        if 2 * self.context_pad >= self.crop_size:
            raise self.error("context_pad leaves no room in the crop", field="context_pad",
                             expected=f"< {self.crop_size / 2:g}", found=self.context_pad)
        if p.crop_mode not in ("warp", "square"):
            raise self.error("unknown crop_mode", field="crop_mode", expected="warp or square",
                             found=p.crop_mode)
        self.square = p.crop_mode == "square"
        self.mirror = bool(tp.mirror)
        self.scale = float(p.scale) if p.HasField("scale") else float(tp.scale)
        self.fg_fraction = float(p.fg_fraction)
        log.info("Window data layer: foreground (object) overlap threshold: %g, background "
                 "(non-object) overlap threshold: %g, foreground sampling fraction: %g",
                 p.fg_threshold, p.bg_threshold, p.fg_fraction)
        self.source = resolve_path(p.source, self.source_dir)
        self.images, fg, bg = parse_window_file(self.source, p.fg_threshold, p.bg_threshold,
                                                p.root_folder, self.name)
        self.fg = np.asarray(fg, dtype=np.float64).reshape(-1, 7)
        self.bg = np.asarray(bg, dtype=np.float64).reshape(-1, 7)
        log.info("Number of images: %d", len(self.images))
        labels, counts = np.unique(np.concatenate([self.fg[:, 1], self.bg[:, 1]]), return_counts=True)
        for lab, cnt in zip(labels, counts):
            log.info("class %d has %d samples", lab, cnt)
        log.info("Amount of context padding: %d", self.context_pad)
        log.info("Crop mode: %s", p.crop_mode)
        self.num_fg = int(self.batch_size * self.fg_fraction)
        if self.num_fg and not len(self.fg):
            raise self.error("no foreground windows (overlap >= fg_threshold) in the window file",
                             cls=DataError, file=self.source)
        if self.batch_size - self.num_fg and not len(self.bg):
            raise self.error("no background windows (overlap < bg_threshold) in the window file",
                             cls=DataError, file=self.source)
        self.channels = self.images[0][1][0]
        if self.transformer.mean is not None:
            mean = self.transformer.mean
            if mean.shape[1] != mean.shape[2] or mean.shape[1] < self.crop_size:
                raise self.error("mean_file must be square and at least crop_size",
                                 cls=DataError, field="mean_file", found=mean.shape)
            off = (mean.shape[2] - self.crop_size) // 2
            self.mean_crop = mean[:, off:off + self.crop_size, off:off + self.crop_size]
        elif self.transformer.mean_values is not None:
            mv = self.transformer.mean_values
            if mv.size not in (1, self.channels):
                raise self.error("specify either 1 mean_value or as many as channels",
                                 field="mean_value", expected=f"1 or {self.channels}",
                                 found=mv.size)
            self.mean_crop = np.broadcast_to(mv.reshape(-1, 1, 1), (self.channels, 1, 1))
        else:
            self.mean_crop = None
        self.cache = None
        if p.cache_images:
            self.cache = []
            for path, _ in self.images:
                with open(path, "rb") as f:
                    self.cache.append(np.frombuffer(f.read(), dtype=np.uint8))
        c = self.crop_size
        log.info("output data size: %d,%d,%d,%d", self.batch_size, self.channels, c, c)
        return [(self.batch_size, self.channels, c, c), (self.batch_size,)]

    def read_batch(self, index):
        return None   # windows are drawn at random from the batch's own rng

    def _image(self, i):
        flag = cv2.IMREAD_COLOR if self.channels == 3 else cv2.IMREAD_GRAYSCALE
        path = self.images[i][0]
        img = cv2.imdecode(self.cache[i], flag) if self.cache is not None else cv2.imread(path, flag)
        if img is None:
            raise DataError(f"could not open or find file {path}", file=path, layer=self.name,
                            layer_type=self.type)
        return img if img.ndim == 3 else img[:, :, None]

    def warp_batch(self, rng):
        """(uint8 N×C×crop×crop canvas, int32 (4, N) rectangles top/left/height/width of the
        warped windows, float32 labels): the random draws and the warps, no arithmetic."""
        n, crop = self.batch_size, self.crop_size
        picks = [self.bg[rng.integers(0, len(self.bg))] for _ in range(n - self.num_fg)]
        picks += [self.fg[rng.integers(0, len(self.fg))] for _ in range(self.num_fg)]
        mirror = rng.integers(0, 2, size=n).astype(bool) if self.mirror else np.zeros(n, bool)
        canvas = np.zeros((n, self.channels, crop, crop), np.uint8)
        rects = np.zeros((4, n), np.int32)
        for k, window in enumerate(picks):
            patch, top, left = self.warp_window(self._image(int(window[0])), window[3:], mirror[k])
            h, w = patch.shape[:2]
            canvas[k, :, top:top + h, left:left + w] = patch.transpose(2, 0, 1)
            rects[:, k] = top, left, h, w
        labels = np.asarray([w[1] for w in picks], dtype=np.float32)
        return canvas, rects, labels

    def process_batch(self, _, rng):
        canvas, rects, labels = self.warp_batch(rng)
        mask = np.zeros((len(labels), 1) + canvas.shape[2:], bool)
        for k, (top, left, h, w) in enumerate(rects.T):
            mask[k, :, top:top + h, left:left + w] = True
        pixels = canvas.astype(np.float32)
        if self.mean_crop is not None:
            pixels -= self.mean_crop
        data = np.where(mask, pixels * np.float32(self.scale), np.float32(0))
        return [data, labels]

    def stage_batch(self, _, rng, ring):
        from caffeine.cuda_layers.data_gpu import pack
        canvas, rects, labels = self.warp_batch(rng)
        return pack(ring, canvas, rects, labels, canvas.shape)

    def launch_transform(self, pixels, rects, out):
        from caffeine.cuda_layers.transform_gpu import window_launch
        t = self.transformer
        mean_file = self.mean_crop if t.mean is not None else None
        window_launch(self, pixels, rects, mean_file, t.mean_values if mean_file is None else None,
                      self.scale, out)

    def warp_window(self, img, box, do_mirror):
        """(warped H×W×C patch, top, left) of one window inside the crop (Caffe's arithmetic)."""
        crop, pad = self.crop_size, self.context_pad
        x1, y1, x2, y2 = (int(v) for v in box)
        rows, cols = img.shape[:2]
        pad_w = pad_h = 0
        out_w = out_h = crop
        if pad > 0 or self.square:
            context_scale = crop / (crop - 2.0 * pad)
            half_h, half_w = (y2 - y1 + 1) / 2.0, (x2 - x1 + 1) / 2.0
            cx, cy = x1 + half_w, y1 + half_h
            if self.square:
                half_h = half_w = max(half_h, half_w)
            x1, x2 = _cround(cx - half_w * context_scale), _cround(cx + half_w * context_scale)
            y1, y2 = _cround(cy - half_h * context_scale), _cround(cy + half_h * context_scale)
            unclipped_h, unclipped_w = y2 - y1 + 1, x2 - x1 + 1
            pad_x1, pad_y1 = max(0, -x1), max(0, -y1)
            pad_x2, pad_y2 = max(0, x2 - cols + 1), max(0, y2 - rows + 1)
            x1, x2, y1, y2 = x1 + pad_x1, x2 - pad_x2, y1 + pad_y1, y2 - pad_y2
            if x1 >= cols or y1 >= rows or x2 < 0 or y2 < 0 or x2 < x1 or y2 < y1:
                raise DataError(f"a window lies outside its {cols}x{rows} image", file=self.source,
                                layer=self.name, found=tuple(int(v) for v in box))
            scale_x, scale_y = crop / unclipped_w, crop / unclipped_h
            out_w = _cround((x2 - x1 + 1) * scale_x)
            out_h = _cround((y2 - y1 + 1) * scale_y)
            pad_x1, pad_x2 = _cround(pad_x1 * scale_x), _cround(pad_x2 * scale_x)
            pad_y1 = _cround(pad_y1 * scale_y)
            pad_h = pad_y1
            pad_w = pad_x2 if do_mirror else pad_x1   # mirror the padding too (Caffe)
            out_h = min(out_h, crop - pad_h)
            out_w = min(out_w, crop - pad_w)
        x1, y1 = max(x1, 0), max(y1, 0)
        x2, y2 = min(x2, cols - 1), min(y2, rows - 1)
        roi = img[y1:y2 + 1, x1:x2 + 1]
        patch = cv2.resize(roi, (max(out_w, 1), max(out_h, 1)), interpolation=cv2.INTER_LINEAR)
        if patch.ndim == 2:
            patch = patch[:, :, None]
        if do_mirror:
            patch = patch[:, ::-1]
        return patch, pad_h, pad_w
