"""WindowData layer vs a transcription of Caffe's WindowDataLayer::InternalThreadEntry."""
import math

import cv2
import numpy as np
import pytest

from caffeine.data.transformer import write_mean_file
from caffeine.errors import ConfigError, DataError
from caffeine.testing.layer_helpers import empty_tops, make_layer

CROP = 12


def caffe_window(img, box, crop, context_pad, square, do_mirror, mean, mean_off, scale):
    """One window, written as Caffe's C++ (ints, round() halves away from zero)."""
    def cround(x):
        return int(math.copysign(math.floor(abs(x) + 0.5), x))

    x1, y1, x2, y2 = box
    out = np.zeros((img.shape[2], crop, crop), np.float32)
    pad_w = pad_h = 0
    cw, ch = crop, crop
    if context_pad > 0 or square:
        context_scale = crop / (crop - 2.0 * context_pad)
        half_height, half_width = (y2 - y1 + 1) / 2.0, (x2 - x1 + 1) / 2.0
        center_x, center_y = x1 + half_width, y1 + half_height
        if square:
            if half_height > half_width:
                half_width = half_height
            else:
                half_height = half_width
        x1 = cround(center_x - half_width * context_scale)
        x2 = cround(center_x + half_width * context_scale)
        y1 = cround(center_y - half_height * context_scale)
        y2 = cround(center_y + half_height * context_scale)
        unclipped_height, unclipped_width = y2 - y1 + 1, x2 - x1 + 1
        pad_x1, pad_y1 = max(0, -x1), max(0, -y1)
        pad_x2, pad_y2 = max(0, x2 - img.shape[1] + 1), max(0, y2 - img.shape[0] + 1)
        x1, x2, y1, y2 = x1 + pad_x1, x2 - pad_x2, y1 + pad_y1, y2 - pad_y2
        scale_x, scale_y = crop / unclipped_width, crop / unclipped_height
        cw = cround((x2 - x1 + 1) * scale_x)
        ch = cround((y2 - y1 + 1) * scale_y)
        pad_x1, pad_x2 = cround(pad_x1 * scale_x), cround(pad_x2 * scale_x)
        pad_y1 = cround(pad_y1 * scale_y)
        pad_h = pad_y1
        pad_w = pad_x2 if do_mirror else pad_x1
        if pad_h + ch > crop:
            ch = crop - pad_h
        if pad_w + cw > crop:
            cw = crop - pad_w
    warped = cv2.resize(img[y1:y2 + 1, x1:x2 + 1], (cw, ch), interpolation=cv2.INTER_LINEAR)
    if do_mirror:
        warped = cv2.flip(warped, 1)
    for c in range(img.shape[2]):
        for h in range(warped.shape[0]):
            for w in range(warped.shape[1]):
                pixel = float(warped[h, w, c])
                m = mean[c, h + mean_off + pad_h, w + mean_off + pad_w]
                out[c, h + pad_h, w + pad_w] = (pixel - m) * scale
    return out


@pytest.fixture
def window_file(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (3, 3), 1)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    # one foreground (class 3, overlap 0.9), one background (0.1), one ignored (0.4)
    text = ("# 0\na.png\n3\n30\n40\n3\n"
            "3 0.9 5 4 20 25\n"
            "2 0.1 30 1 39 12\n"
            "1 0.4 0 0 10 10\n")
    (tmp_path / "windows.txt").write_text(text)
    return tmp_path, img


def _layer(folder, params="", transform="", batch=4):
    layer = make_layer(f'name: "win" type: "WindowData" top: "data" top: "label" window_data_param {{ '
                       f'source: "{folder / "windows.txt"}" root_folder: "{folder}/" batch_size: {batch} '
                       f'fg_threshold: 0.5 bg_threshold: 0.3 fg_fraction: 0.5 {params} }} '
                       f'transform_param {{ crop_size: {CROP} {transform} }}')
    t = empty_tops(2, dtype=np.float32)
    layer.layer_setup([], t)
    return layer, t


@pytest.mark.parametrize("params", ["", "context_pad: 2 cache_images: true", 'context_pad: 3 crop_mode: "square"',
                                    'crop_mode: "square" scale: 0.5'])
def test_matches_caffe_transcription(window_file, tmp_path, params):
    folder, img = window_file
    mean = np.random.default_rng(1).uniform(0, 255, (3, 16, 16)).astype(np.float32)
    write_mean_file(tmp_path / "mean.binaryproto", mean)
    layer, t = _layer(folder, params, f'mean_file: "{tmp_path / "mean.binaryproto"}"')
    layer.forward([], t)
    layer.close()
    pad = int(params.split("context_pad: ")[1].split()[0]) if "context_pad" in params else 0
    square = "square" in params
    scale = 0.5 if "scale" in params else 1.0
    assert t[0].shape == (4, 3, CROP, CROP)
    assert t[1].data.tolist() == [0, 0, 3, 3]                 # background first, then foreground
    bg = caffe_window(img, (30, 1, 39, 12), CROP, pad, square, False, mean, 2, scale)
    fg = caffe_window(img, (5, 4, 20, 25), CROP, pad, square, False, mean, 2, scale)
    for k, want in enumerate([bg, bg, fg, fg]):
        np.testing.assert_allclose(t[0].data[k], want, rtol=1e-5, atol=1e-4)


def test_mirror_and_mean_value(window_file):
    folder, img = window_file
    layer, t = _layer(folder, "context_pad: 2", "mirror: true mean_value: 100", batch=40)
    layer.forward([], t)
    layer.close()
    mean = np.full((3, CROP, CROP), 100.0, np.float32)
    flips = []
    for k in range(40):
        box = (30, 1, 39, 12) if k < 20 else (5, 4, 20, 25)
        plain = caffe_window(img, box, CROP, 2, False, False, mean, 0, 1.0)
        mirrored = caffe_window(img, box, CROP, 2, False, True, mean, 0, 1.0)
        if np.allclose(t[0].data[k], plain, atol=1e-4):
            flips.append(False)
        else:
            np.testing.assert_allclose(t[0].data[k], mirrored, atol=1e-4)
            flips.append(True)
    assert 0 < sum(flips) < 40


def test_bad_window_files_and_params(window_file):
    folder, _ = window_file
    with pytest.raises(ConfigError, match="crop_size > 0"):
        make_layer(f'type: "WindowData" top: "d" top: "l" window_data_param {{ source: "{folder / "windows.txt"}" '
                   'batch_size: 2 }').layer_setup([], empty_tops(2, dtype=np.float32))
    with pytest.raises(ConfigError, match="unknown crop_mode"):
        _layer(folder, 'crop_mode: "stretch"')
    (folder / "windows.txt").write_text("# 0\na.png\n3\n30\n40\n2\n3 0.9 5 4 20 25\n")
    with pytest.raises(DataError, match="ends early"):
        _layer(folder)
    (folder / "windows.txt").write_text("# 0\na.png\n3\n30\n40\n1\n0 0.9 5 4 20 x\n")
    with pytest.raises(DataError, match="windows.txt:7"):
        _layer(folder)
    (folder / "windows.txt").write_text("# 0\na.png\n3\n30\n40\n1\n0 0.9 5 4 20 25\n")
    with pytest.raises(DataError, match="class index > 0"):
        _layer(folder)
    (folder / "windows.txt").write_text("# 0\na.png\n3\n30\n40\n1\n2 0.9 5 4 20 25\n")
    with pytest.raises(DataError, match="no background windows"):
        _layer(folder)
