"""ImageData layer: images named in a list file (Caffe's ImageDataLayer).

``image_data_param { source root_folder batch_size shuffle new_height new_width
is_color rand_skip }`` + ``transform_param``.  List lines are ``path label`` (the last
space separates the label).  Images are read with OpenCV (colour → BGR), resized
with INTER_LINEAR when new_height/new_width are set, and transformed; the list
wraps around at the end, reshuffled every epoch when ``shuffle`` is set.
"""
import logging
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
_SHUFFLE_TAG = 0x5F1E


def parse_list_file(path, layer=None):
    """[(path, label, line number)]; every bad line is named in one DataError."""
    if not os.path.isfile(path):
        raise DataError(f"image list '{path}' does not exist", file=path, layer=layer,
                        field="source")
    lines, bad = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            name, sep, label = text.rpartition(" ")
            if not sep or not name.strip():
                bad.append(f"line {number}: expected 'path label', found {text!r}")
                continue
            try:
                lines.append((name.strip(), int(label), number))
            except ValueError:
                bad.append(f"line {number}: label {label!r} is not an integer")
    if bad:
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise DataError(f"bad lines in image list '{path}': " + "; ".join(bad[:10]) + more,
                        file=path, layer=layer)
    if not lines:
        raise DataError(f"image list '{path}' has no images", file=path, layer=layer)
    return lines


@register_layer("ImageData")
class ImageDataLayer(BasePrefetchingDataLayer):
    legacy_param_name = "image_data_param"

    def data_setup(self, top):
        p = self.layer_param.image_data_param
        self.batch_size = int(p.batch_size)
        if self.batch_size <= 0:
            raise self.error("batch_size must be positive", field="batch_size", expected="> 0",
                             found=self.batch_size)
        self.new_height, self.new_width = int(p.new_height), int(p.new_width)
        if (self.new_height > 0) != (self.new_width > 0) or min(self.new_height, self.new_width) < 0:
            raise self.error("new_height and new_width must be set together", field="new_height",
                             expected="both > 0 or both 0",
                             found=f"{self.new_height}x{self.new_width}")
        self.is_color = bool(p.is_color)
        self.root_folder = p.root_folder
        self.source = resolve_path(p.source, self.source_dir)
        self.lines = parse_list_file(self.source, self.name)
        self.shuffle = bool(p.shuffle)
        if self.shuffle:
            log.info("Shuffling data")
        log.info("A total of %d images.", len(self.lines))
        self.skip = 0
        if p.rand_skip:
            self.skip = int(np.random.default_rng([self.seed, 0x5C1B]).integers(0, p.rand_skip))
            log.info("Skipping first %d data points.", self.skip)
        self._perm_cache = {}
        first = self._load(self._line_at(self.skip))
        self.transformer.check_shape(first.shape)
        c, h, w = self.transformer.output_shape(first.shape)
        log.info("output data size: %d,%d,%d,%d", self.batch_size, c, h, w)
        shapes = [(self.batch_size, c, h, w)]
        if self.output_labels:
            shapes.append((self.batch_size,))
        return shapes

    def _line_at(self, position):
        """The list entry at ``position`` of the endless (per-epoch shuffled) stream."""
        n = len(self.lines)
        epoch, i = divmod(int(position), n)
        if self.shuffle:
            perm = self._perm_cache.get(epoch)
            if perm is None:
                perm = np.random.default_rng([self.seed, _SHUFFLE_TAG, epoch]).permutation(n)
                self._perm_cache = {epoch: perm}
            i = int(perm[i])
        return self.lines[i]

    def _load(self, entry):
        name, _, number = entry
        path = self.root_folder + name
        img = cv2.imread(path, cv2.IMREAD_COLOR if self.is_color else cv2.IMREAD_GRAYSCALE)
        if img is None:
            why = "does not exist" if not os.path.exists(path) else "is not a readable image"
            raise DataError(f"could not load {path} (line {number} of {self.source}): {why}",
                            file=self.source, line=number, layer=self.name, layer_type=self.type)
        if self.new_height > 0:
            img = cv2.resize(img, (self.new_width, self.new_height), interpolation=cv2.INTER_LINEAR)
        return img[None] if img.ndim == 2 else img.transpose(2, 0, 1)

    def read_batch(self, index):
        start = self.skip + index * self.batch_size
        return [self._line_at(start + k) for k in range(self.batch_size)]

    def load_batch(self, entries):
        images = [self._load(e) for e in entries]
        return images, np.asarray([e[1] for e in entries], dtype=np.float32)
