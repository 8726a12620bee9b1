"""ImageData layer: list file of images -> resized, transformed batches."""
import cv2
import numpy as np
import pytest

from caffeine import backend
from caffeine.errors import ConfigError, DataError
from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import empty_tops, make_layer


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    lines, imgs = [], []
    for i in range(7):
        img = rng.integers(0, 256, (10 + i, 14 - i, 3), dtype=np.uint8)
        name = f"im {i}.png"                           # a space in the name: last space splits
        cv2.imwrite(str(tmp_path / name), img)
        lines.append(f"{name} {i * 2}")
        imgs.append(img)
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    return tmp_path, imgs


def _layer(folder, params, batch=3, phase=caffe_pb2.TRAIN, transform=""):
    text = (f'name: "img" type: "ImageData" top: "data" top: "label" image_data_param {{ '
            f'source: "{folder / "list.txt"}" root_folder: "{folder}/" batch_size: {batch} {params} }} '
            f'transform_param {{ {transform} }}')
    layer = make_layer(text, phase)
    t = empty_tops(2, dtype=np.float32)
    layer.layer_setup([], t)
    return layer, t


def test_resized_batches_in_list_order(folder):
    path, imgs = folder
    layer, t = _layer(path, "new_height: 8 new_width: 9", batch=3, phase=caffe_pb2.TEST,
                      transform="scale: 0.5")
    assert t[0].shape == (3, 3, 8, 9)
    seen = []
    for _ in range(3):                                 # 9 items from 7: wraps around
        layer.forward([], t)
        for k in range(3):
            seen.append(int(t[1].data[k]) // 2)
            want = cv2.resize(imgs[seen[-1]], (9, 8), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_allclose(t[0].data[k], want.transpose(2, 0, 1) * 0.5)
    layer.close()
    assert seen == [i % 7 for i in range(9)]


def test_gray_crop_and_shuffle_each_epoch_seeded(folder):
    path, imgs = folder

    def epochs(seed):
        backend.set_random_seed(seed)
        layer, t = _layer(path, "shuffle: true is_color: false new_height: 10 new_width: 10",
                          batch=7, transform="crop_size: 6")
        out = []
        for _ in range(3):
            layer.forward([], t)
            out.append(t[1].data.copy())
        layer.close()
        assert t[0].shape == (7, 1, 6, 6)
        return out

    a, b = epochs(1), epochs(1)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        assert sorted(x // 2) == list(range(7))        # each epoch is a permutation
    assert any(not np.array_equal(x, a[0]) for x in a[1:])   # reshuffled between epochs


def test_bad_list_lines_named_with_line_numbers(folder):
    path, _ = folder
    (path / "list.txt").write_text("im 0.png 1\nim 1.png one\n\nnolabel\nim 2.png 3\n")
    with pytest.raises(DataError, match=r"line 2: label 'one'.*line 4: expected 'path label'"):
        _layer(path, "")


def test_missing_image_named_with_its_line(folder):
    path, _ = folder
    (path / "list.txt").write_text("im 0.png 1\nim 1.png 1\nim 2.png 1\ngone.png 2\n")
    layer, t = _layer(path, "new_height: 5 new_width: 5", batch=4)
    with pytest.raises(DataError, match=r"gone.png \(line 4 of .*list.txt\): does not exist"):
        layer.forward([], t)
    layer.close()


def test_bad_parameters(folder, tmp_path):
    path, _ = folder
    with pytest.raises(ConfigError, match="new_height and new_width must be set together"):
        _layer(path, "new_height: 5")
    with pytest.raises(ConfigError, match="batch_size must be positive"):
        _layer(path, "", batch=0)
    with pytest.raises(DataError, match="different sizes"):
        layer, t = _layer(path, "", batch=3)
        try:
            layer.forward([], t)
        finally:
            layer.close()
    (tmp_path / "list.txt").unlink()
    with pytest.raises(DataError, match="image list .* does not exist"):
        _layer(tmp_path, "")
