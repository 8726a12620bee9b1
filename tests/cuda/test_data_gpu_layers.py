"""ImageData and WindowData on the device transform path, and the data layers that stay on the
host in GPU mode (HDF5Data, MemoryData: one copy per top per batch; DummyData with constant
fillers and Input: no copy per iteration), on the emulated device and (``-m gpu``) CUDA."""
import cv2
import numpy as np
import pytest

from caffeine.data.transformer import write_mean_file
from caffeine.layers import layer_types
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from caffeine.testing.layer_helpers import empty_tops, make_layer
from data_gpu_lib import KINDS, batches


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(7):
        img = rng.integers(0, 256, (10 + i, 14 - i, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / f"im{i}.png"), img)
        lines.append(f"im{i}.png {i * 2}")
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("params,transform", [
    ("shuffle: true new_height: 9 new_width: 11", "crop_size: 8 mirror: true scale: 0.5 mean_value: 100"),
    ("", "crop_size: 7 mirror: true"),                           # images of different sizes
    ("is_color: false new_height: 8 new_width: 8", "MEAN mirror: true")])
def test_image_data_gpu_equals_cpu(images, params, transform, kind):
    if "MEAN" in transform:
        write_mean_file(images / "mean.binaryproto",
                        np.random.default_rng(1).uniform(0, 255, (1, 8, 8)).astype(np.float32))
        transform = transform.replace("MEAN", f'mean_file: "{images / "mean.binaryproto"}"')
    text = (f'name: "img" type: "ImageData" top: "data" top: "label" image_data_param {{ '
            f'source: "{images / "list.txt"}" root_folder: "{images}/" batch_size: 3 {params} }} '
            f'transform_param {{ {transform} }}')
    cpu = batches(None, text, 5)
    gpu = batches(kind, text, 5, check_gpu_path=True)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])
        np.testing.assert_array_equal(y[1], x[1])


@pytest.fixture
def windows(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (3, 3), 1)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    (tmp_path / "windows.txt").write_text("# 0\na.png\n3\n30\n40\n3\n3 0.9 5 4 20 25\n"
                                          "2 0.1 30 1 39 12\n4 0.8 0 0 39 29\n")
    write_mean_file(tmp_path / "mean.binaryproto",
                    np.random.default_rng(1).uniform(0, 255, (3, 16, 16)).astype(np.float32))
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("params,transform", [
    ("context_pad: 2", "mirror: true MEAN"),
    ('context_pad: 3 crop_mode: "square" scale: 0.5', "mirror: true mean_value: 100 mean_value: 90 mean_value: 80"),
    ("", "mean_value: 128 scale: 0.25"),
    ("cache_images: true", "mirror: true")])
def test_window_data_gpu_equals_cpu(windows, params, transform, kind):
    transform = transform.replace("MEAN", f'mean_file: "{windows / "mean.binaryproto"}"')
    text = (f'name: "win" type: "WindowData" top: "data" top: "label" window_data_param {{ '
            f'source: "{windows / "windows.txt"}" root_folder: "{windows}/" batch_size: 6 '
            f'fg_threshold: 0.5 bg_threshold: 0.3 fg_fraction: 0.5 {params} }} '
            f'transform_param {{ crop_size: 12 {transform} }}')
    cpu = batches(None, text, 4)
    gpu = batches(kind, text, 4, check_gpu_path=True)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])
        np.testing.assert_array_equal(y[1], x[1])
    if "context_pad" in params:     # windows at the image border leave zero margins
        assert any((b[0] == 0).any() and (b[0] != 0).any() for b in cpu)


@pytest.fixture
def hdf5(tmp_path):
    h5py = pytest.importorskip("h5py")
    for i, n in enumerate([5, 3]):
        with h5py.File(tmp_path / f"part{i}.h5", "w") as f:
            f["data"] = np.random.default_rng(i).standard_normal((n, 2, 3))
            f["label"] = np.arange(n, dtype=np.int32) + 10 * i
    (tmp_path / "list.txt").write_text("part0.h5\npart1.h5\n")
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
def test_hdf5_data_one_copy_per_top(hdf5, kind):
    text = (f'name: "h5" type: "HDF5Data" top: "data" top: "label" hdf5_data_param {{ '
            f'source: "{hdf5 / "list.txt"}" batch_size: 3 shuffle: true }}')
    cpu = batches(None, text, 5)
    counts = {}
    gpu = batches(kind, text, 5, counts=counts)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])
        np.testing.assert_array_equal(y[1], x[1])
    assert counts["host_fallback"]          # logged once: "... layer h5 runs on the host"
    if kind == "emulated":
        assert counts["h2d_per_batch"] == 2


def _feed(layer):
    rng = np.random.default_rng(3)
    layer.set_input_arrays(rng.standard_normal((6, 2, 3, 2)).astype(np.float32),
                           np.arange(6, dtype=np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_memory_data_one_copy_per_top(kind):
    text = ('name: "mem" type: "MemoryData" top: "data" top: "label" '
            'memory_data_param { batch_size: 2 channels: 2 height: 3 width: 2 }')
    cpu = batches(None, text, 4, setup=_feed)
    counts = {}
    gpu = batches(kind, text, 4, setup=_feed, counts=counts)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])
        np.testing.assert_array_equal(y[1], x[1])
    assert counts["host_fallback"]
    if kind == "emulated":
        assert counts["h2d_per_batch"] == 2


@pytest.mark.parametrize("text,per_iteration", [
    ('type: "DummyData" top: "a" top: "b" dummy_data_param { shape { dim: 2 dim: 3 } '
     'data_filler { type: "constant" value: 2 } }', 0),
    ('type: "DummyData" top: "a" top: "b" dummy_data_param { shape { dim: 2 dim: 3 } '
     'data_filler { type: "constant" } data_filler { type: "gaussian" } }', 1),  # refills on the host
    ('type: "Input" top: "a" input_param { shape { dim: 2 dim: 3 } }', 0)])
def test_constant_inputs_are_not_copied_every_iteration(text, per_iteration):
    with emulated_gpu() as cp:
        layer = make_layer(text)
        top = empty_tops(text.count("top:"), dtype=np.float32)
        layer.layer_setup([], top)
        layer.forward([], top)
        reads = [cp.asarray(t.gpu_data_readonly) for t in top]   # a consumer on the device
        before = dict(FakeCupy.stats)
        for _ in range(3):
            layer.forward([], top)
            reads = [t.gpu_data_readonly for t in top]
        assert FakeCupy.stats["h2d"] - before["h2d"] == 3 * per_iteration
        assert FakeCupy.stats["d2h"] == before["d2h"]
        del reads


def test_layer_table_says_which_data_layers_transform_on_the_device():
    status = layer_types()
    assert all(status[t]["gpu"] for t in ("Data", "ImageData", "WindowData", "Input"))
    assert not any(status[t]["gpu"] for t in ("HDF5Data", "MemoryData", "DummyData", "Python"))
