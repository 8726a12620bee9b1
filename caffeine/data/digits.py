"""``caffeine data digits DIR``: a built-in, offline, MNIST-like synthetic data set.

Digits 0-9 drawn by OpenCV's ``putText`` in the 8 Hershey fonts (upright or italic,
four stroke widths), then, per sample, a random affine jitter (rotation ±15°, shear,
scale, translation) plus a smooth elastic wobble so strokes look hand-drawn, a random
blur and sensor noise.  28×28 gray uint8, white on black, the glyph fitted in a 20×20
box and centred as MNIST's digits are.  Written as ``DIR/train_lmdb`` and
``DIR/test_lmdb`` of Datums (1×28×28, label) with keys ``%08d``, as Caffe's
``convert_mnist_data``, so ``models/lenet`` trains on it unchanged.

Speed: the 640 glyph templates are rendered once; the per-sample maps are computed
for a whole chunk at once in numpy and each sample is one ``cv2.remap`` call, so
24,000 images take a few seconds on 2 cores.  Deterministic: the same seed gives
byte-identical images, labels and DBs.
"""
import functools
import logging
import os

import numpy as np

from caffeine.errors import DataError

try:
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None

log = logging.getLogger("caffeine")

SIZE = 28
BOX = 20.0                     # MNIST fits each digit in a 20×20 box ...
TEMPLATE = 96                  # glyphs are drawn on a 96×96 canvas, then warped down
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL,
         cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX) if cv2 else ()
THICKNESS = (2, 4, 6, 8)       # template pixels; about 0.7 to 2.5 output pixels
DEFAULT_TRAIN, DEFAULT_TEST = 24000, 4000
DEFAULT_SEED = 1701


@functools.lru_cache(maxsize=1)
def _render_templates():
    """(fonts×2×thickness×10) glyph images (float32 in [0,1]) and their ink boxes."""
    glyphs, boxes = [], []
    for font in FONTS:
        for italic in (0, cv2.FONT_ITALIC):
            for thick in THICKNESS:
                for digit in range(10):
                    text = str(digit)
                    (tw, th), base = cv2.getTextSize(text, font | italic, 1.0, thick)
                    scale = 56.0 / max(th + base * 0.3, 1)
                    (tw, th), base = cv2.getTextSize(text, font | italic, scale, thick)
                    canvas = np.zeros((TEMPLATE, TEMPLATE), np.uint8)
                    org = ((TEMPLATE - tw) // 2, (TEMPLATE + th) // 2)
                    cv2.putText(canvas, text, org, font | italic, scale, 255, thick, cv2.LINE_AA)
                    ys, xs = np.nonzero(canvas > 40)
                    boxes.append((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
                    # pre-blur ~ the 3-4× reduction to come, so the warp does not alias
                    glyphs.append(cv2.GaussianBlur(canvas, (0, 0), 1.3).astype(np.float32) / 255.0)
    return np.stack(glyphs), np.asarray(boxes, dtype=np.float32)


def _sample_maps(rng, boxes, template_ids):
    """Per sample: the template coordinates (map_x, map_y) of every output pixel."""
    n = len(template_ids)
    box = boxes[template_ids]
    bw, bh = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    bcx, bcy = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
    # output pixels per template pixel: fit the ink box's longer side in ~20 px
    fit = BOX * rng.uniform(0.8, 1.1, n) / np.maximum(bw, bh)
    sx = fit * rng.uniform(0.85, 1.15, n)          # independent x/y stretch
    sy = fit
    angle = np.deg2rad(rng.uniform(-15, 15, n))
    shear = rng.uniform(-0.3, 0.3, n)
    tx = rng.normal(0, 1.2, n).clip(-3, 3)
    ty = rng.normal(0, 1.2, n).clip(-3, 3)
    # forward map: out = R · Sh · S · (t - c) + 13.5 + (tx, ty); invert it per sample
    cos, sin = np.cos(angle), np.sin(angle)
    a = np.empty((n, 2, 2), np.float64)
    a[:, 0, 0] = cos * sx
    a[:, 0, 1] = (cos * shear - sin) * sy
    a[:, 1, 0] = sin * sx
    a[:, 1, 1] = (sin * shear + cos) * sy
    inv = np.linalg.inv(a)
    grid = np.arange(SIZE, dtype=np.float64) - (SIZE - 1) / 2.0
    gx = grid[None, None, :] - tx[:, None, None]                    # n×1×28
    gy = grid[None, :, None] - ty[:, None, None]                    # n×28×1
    # smooth elastic wobble: a random 4×4 displacement field, bicubically upsampled
    coarse = rng.normal(0, 0.9, (n, 2, 4, 4)).astype(np.float32)
    stacked = coarse.reshape(n * 2, 4, 4).transpose(1, 2, 0)      # 4×4×2n (channels last)
    up = np.concatenate([cv2.resize(np.ascontiguousarray(stacked[:, :, k:k + 512]), (SIZE, SIZE),
                                    interpolation=cv2.INTER_CUBIC).reshape(SIZE, SIZE, -1)
                         for k in range(0, 2 * n, 512)], axis=2)
    up = up.transpose(2, 0, 1).reshape(n, 2, SIZE, SIZE).transpose(0, 2, 3, 1)   # n×28×28×2
    ox = gx + up[..., 0]
    oy = gy + up[..., 1]
    map_x = inv[:, 0, 0, None, None] * ox + inv[:, 0, 1, None, None] * oy + bcx[:, None, None]
    map_y = inv[:, 1, 0, None, None] * ox + inv[:, 1, 1, None, None] * oy + bcy[:, None, None]
    return map_x.astype(np.float32), map_y.astype(np.float32)


def generate(count, seed=DEFAULT_SEED, chunk=4096):
    """``count`` images (N×28×28 uint8) and labels (N, uint8), deterministic in ``seed``."""
    if cv2 is None:
        raise DataError("the digits data set needs OpenCV (opencv-python-headless)")
    glyphs, boxes = _render_templates()
    rng = np.random.default_rng([int(seed), 0xD161])
    labels = np.tile(np.arange(10, dtype=np.uint8), count // 10 + 1)[:count]
    labels = rng.permutation(labels)
    styles = len(glyphs) // 10
    template_ids = rng.integers(0, styles, count) * 10 + labels
    images = np.empty((count, SIZE, SIZE), np.uint8)
    for start in range(0, count, chunk):
        sl = slice(start, min(count, start + chunk))
        ids = template_ids[sl]
        map_x, map_y = _sample_maps(rng, boxes, ids)
        ink = np.stack([cv2.remap(glyphs[t], mx, my, cv2.INTER_LINEAR, borderValue=0)
                        for t, mx, my in zip(ids, map_x, map_y)])
        m = len(ids)
        # stroke intensity, a random blur mixed in, then sensor noise (white on black)
        blurred = cv2.GaussianBlur(ink.reshape(m * SIZE, SIZE), (3, 3), 0.8).reshape(ink.shape)
        mix = rng.uniform(0, 1, (m, 1, 1)).astype(np.float32)
        ink = (1 - mix) * ink + mix * blurred
        peak = np.maximum(ink.reshape(m, -1).max(axis=1), 1e-3)[:, None, None]
        gain = rng.uniform(0.85, 1.3, (m, 1, 1)).astype(np.float32)
        img = np.clip(ink / peak * gain, 0, 1) * 255.0
        img += rng.normal(0, 1, img.shape).astype(np.float32) * rng.uniform(0, 12, (m, 1, 1))
        images[sl] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return images, labels


def build(folder, train=DEFAULT_TRAIN, test=DEFAULT_TEST, seed=DEFAULT_SEED):
    """Write ``folder/train_lmdb`` and ``folder/test_lmdb``; returns the two paths."""
    from caffeine.data.db import write_datums
    os.makedirs(folder, exist_ok=True)
    out = []
    for split, count, stream in (("train", train, 0), ("test", test, 1)):
        images, labels = generate(count, seed=int(seed) * 2 + stream)
        path = os.path.join(folder, f"{split}_lmdb")
        write_datums(path, images, labels, desc=f"digits {split}")
        log.info("Wrote %d %s images to %s", count, split, path)
        out.append(path)
    return out
