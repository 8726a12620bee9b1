"""Data layers on the GPU path (caffeine.cuda_layers.data_gpu): the same batches as on the CPU,
one host->device copy per batch from reused pinned buffers, the next batch's copy issued on a
side stream before the current forward returns, and exact resume.  "emulated" runs the
whole path on caffeine.testing.emulated_gpu, "cuda" on a real GPU (``-m gpu``)."""
import numpy as np
import pytest
from google.protobuf import text_format

from caffeine import backend
from caffeine.cli.main import main
from caffeine.data.db import open_writer, write_datums
from caffeine.errors import DataError
from caffeine.proto import caffe_pb2
from caffeine.solvers import get_solver
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from caffeine.testing.layer_helpers import empty_tops, make_layer
from data_gpu_lib import KINDS, batches, wait_made
from parity_lib import device

N = 10


@pytest.fixture
def lmdb(tmp_path):
    """10 uint8 3x10x12 Datums written by caffeine's converter, and their mean file."""
    images = np.random.default_rng(0).integers(0, 256, (N, 3, 10, 12), dtype=np.uint8)
    write_datums(tmp_path / "db", images, np.arange(N) % 7)
    assert main(["compute_image_mean", str(tmp_path / "db"), str(tmp_path / "mean.binaryproto")]) == 0
    return tmp_path


def data_text(folder, transform, tops=2, batch=4, extra=""):
    top = 'top: "data" top: "label"' if tops == 2 else 'top: "data"'
    transform = transform.replace("MEAN", f'mean_file: "{folder / "mean.binaryproto"}"')
    return (f'name: "data" type: "Data" {top} data_param {{ source: "{folder / "db"}" batch_size: {batch} '
            f'{extra} }} transform_param {{ {transform} }}')


TRANSFORMS = ["crop_size: 6 mirror: true scale: 0.5 MEAN",
              "crop_size: 7 mirror: true mean_value: 10 mean_value: 20.5 mean_value: 30",
              "scale: 0.00390625 mean_value: 128", "MEAN"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("phase", [caffe_pb2.TRAIN, caffe_pb2.TEST], ids=["train", "test"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_gpu_batches_equal_cpu_batches(lmdb, transform, phase, kind):
    text = data_text(lmdb, transform)
    cpu = batches(None, text, 6, phase)            # 24 items from 10: wraps around twice
    gpu = batches(kind, text, 6, phase, check_gpu_path=True)
    for b, (x, y) in enumerate(zip(cpu, gpu)):
        np.testing.assert_array_equal(y[0], x[0], err_msg=f"batch {b}")
        np.testing.assert_array_equal(y[1], x[1], err_msg=f"batch {b} labels")
    assert any(not np.array_equal(cpu[0][0], c[0]) for c in cpu[1:])


@pytest.mark.parametrize("kind", KINDS)
def test_float64_tops_and_no_label_top(lmdb, kind):
    text = data_text(lmdb, "crop_size: 5 mirror: true MEAN", tops=1)
    cpu = batches(None, text, 3, dtype=np.float64)
    gpu = batches(kind, text, 3, dtype=np.float64)
    assert gpu[0][0].dtype == np.float64 and len(gpu[0]) == 1
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])


def test_one_copy_per_batch_no_readback_and_pinned_buffers_reused(lmdb):
    with emulated_gpu():
        layer = make_layer(data_text(lmdb, "crop_size: 6 mirror: true MEAN", extra="prefetch: 3"))
        top = empty_tops(2, dtype=np.float32)
        layer.layer_setup([], top)
        for _ in range(3):                      # warm-up: mean upload, pinned ring filled
            wait_made(layer, layer.batches_consumed + 1)
            layer.forward([], top)
        before = dict(FakeCupy.stats)
        for _ in range(8):                      # (each finds the next batch made: the copy
            wait_made(layer, layer.batches_consumed + 1)   # of batch k+1 is issued in forward k)
            layer.forward([], top)
        moved = {k: FakeCupy.stats[k] - before[k] for k in before}
        ring = layer.feed.ring
        layer.close()
    # pixels, random choices and labels travel in one copy: fewer than one per top
    assert moved["h2d"] == 8 and moved["d2h"] == 0
    assert moved["launches"] == 8               # one transform kernel per batch
    assert moved["pinned"] == 0 and ring.allocations == 3 == layer.prefetch_count
    assert all(e[3] for e in FakeCupy.log if e[0] == "h2d" and e[1] != 0)   # from pinned memory


def test_next_batch_copy_is_issued_on_the_side_stream_before_forward_returns(lmdb):
    with emulated_gpu():
        layer = make_layer(data_text(lmdb, "crop_size: 6 mirror: true"))
        top = empty_tops(2, dtype=np.float32)
        layer.layer_setup([], top)
        spans = []
        for _ in range(5):
            wait_made(layer, layer.batches_consumed + 1)
            start = len(FakeCupy.log)
            layer.forward([], top)
            spans.append(list(FakeCupy.log)[start:])
        side = layer.feed.stream.ptr
        layer.close()
    copied = {}                                 # batch -> event recorded after its copy
    for k, span in enumerate(spans):
        kinds = [e[0] for e in span]
        wait = kinds.index("wait")
        launch = kinds.index("launch")
        if k > 0:
            # the compute stream waits on the event of the copy issued in forward k-1
            assert span[wait] == ("wait", 0, copied[k]) and wait < launch
        h2d = max(i for i, e in enumerate(span) if e[0] == "h2d")
        assert span[h2d][1] == side and h2d > launch       # batch k+1, issued after k's kernel
        assert span[h2d + 1][0] == "record" and span[h2d + 1][2] == side
        copied[k + 1] = span[h2d + 1][1]
        if k >= 1:      # slot (k+1) % 2 last held batch k-1: the copy waits for its reader
            side_waits = [e for e in span[:h2d] if e[0] == "wait" and e[1] == side]
            assert side_waits, f"forward {k}: the copy into a used slot does not wait for its reader"


@pytest.mark.parametrize("kind", KINDS)
def test_seek_and_resume_give_the_same_batches(lmdb, kind):
    from caffeine.solvers import snapshot
    text = data_text(lmdb, "crop_size: 6 mirror: true MEAN")
    straight = batches(kind, text, 7)
    with device(kind):
        backend.set_random_seed(1)
        first = make_layer(text)
        top = empty_tops(2, dtype=np.float32)
        first.layer_setup([], top)
        for _ in range(3):
            wait_made(first, first.batches_consumed + 1)
            first.forward([], top)
        assert first.feed.ahead == 1 and first.batches_consumed == 3   # batch 3 is in flight
        saved = snapshot._layer_state(first)
        first.close()
    assert saved == {"batch": 3}
    resumed = batches(kind, text, 4, seek=saved["batch"])
    for x, y in zip(straight[3:], resumed):
        np.testing.assert_array_equal(y[0], x[0])
        np.testing.assert_array_equal(y[1], x[1])


def test_switching_modes_keeps_the_sequence(lmdb):
    text = data_text(lmdb, "crop_size: 6 mirror: true MEAN")
    want = batches(None, text, 6)
    backend.set_random_seed(1)
    layer = make_layer(text)
    top = empty_tops(2, dtype=np.float32)
    layer.layer_setup([], top)
    got = []
    for k in range(6):
        if k in (2, 3):
            with emulated_gpu():
                layer.forward([], top)
                got.append([t.data.copy() for t in top])
        else:
            layer.forward([], top)
            got.append([t.data.copy() for t in top])
    layer.close()
    for x, y in zip(want, got):
        np.testing.assert_array_equal(y[0], x[0])


DATA_NET = """
name: "lmdb"
layer { name: "data" type: "Data" top: "data" top: "label"
  data_param { source: "SOURCE" batch_size: 3 }
  transform_param { scale: 0.00390625 mirror: true crop_size: 8 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 7 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


def test_solver_resume_on_the_gpu_path_is_byte_identical(lmdb):
    def param(prefix, max_iter):
        p = text_format.Parse(f'base_lr: 0.1 momentum: 0.9 lr_policy: "fixed" random_seed: 3 '
                              f'max_iter: {max_iter} snapshot_prefix: "{prefix}" display: 0',
                              caffe_pb2.SolverParameter())
        text_format.Parse(DATA_NET.replace("SOURCE", str(lmdb / "db")), p.net_param)
        return p

    (lmdb / "straight").mkdir()
    (lmdb / "split").mkdir()
    straight, split = str(lmdb / "straight" / "m"), str(lmdb / "split" / "m")
    with emulated_gpu():
        get_solver(param(straight, 7)).solve()
        get_solver(param(split, 4)).solve()
        resumed = get_solver(param(split, 7))
        resumed.solve(resume_file=f"{split}_iter_4.solverstate")
    assert (lmdb / "straight" / "m_iter_7.caffemodel").read_bytes() == \
        (lmdb / "split" / "m_iter_7.caffemodel").read_bytes()


@pytest.mark.parametrize("kind", KINDS)
def test_float_data_is_transformed_on_the_host_and_copied_once_per_top(tmp_path, kind, caffeine_log):
    rng = np.random.default_rng(2)
    with open_writer(tmp_path / "db") as db:
        for i in range(6):
            d = caffe_pb2.Datum(channels=2, height=5, width=6, label=i)
            d.float_data.extend(rng.standard_normal(60).astype(np.float32))
            db.put(b"%08d" % i, d.SerializeToString())
    text = data_text(tmp_path, "crop_size: 4 mirror: true scale: 2 mean_value: 0.5")
    cpu = batches(None, text, 3)
    counts = {}
    gpu = batches(kind, text, 3, counts=counts)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])
    assert "float32 data is transformed on the host" in caffeine_log.text
    if kind == "emulated":
        assert counts["h2d_per_batch"] == 2          # data and label, nothing else


@pytest.mark.parametrize("kind", KINDS)
def test_encoded_images_of_different_sizes(tmp_path, kind):
    import cv2
    rng = np.random.default_rng(4)
    with open_writer(tmp_path / "db") as db:
        for i in range(7):
            img = rng.integers(0, 256, (8 + i, 9 + 2 * i, 3), dtype=np.uint8)
            ok, png = cv2.imencode(".png", img)
            db.put(b"%08d" % i, caffe_pb2.Datum(data=png.tobytes(), encoded=True, label=i).SerializeToString())
    text = data_text(tmp_path, "crop_size: 7 mirror: true mean_value: 3", batch=3)
    cpu = batches(None, text, 4)
    gpu = batches(kind, text, 4, check_gpu_path=True)
    for x, y in zip(cpu, gpu):
        np.testing.assert_array_equal(y[0], x[0])


def test_a_bad_batch_fails_at_its_own_forward(lmdb):
    with open_writer(lmdb / "db") as db:
        db.put(b"%08d" % 5, caffe_pb2.Datum(data=b"garbage", encoded=True).SerializeToString())
    with emulated_gpu():
        layer = make_layer(data_text(lmdb, "crop_size: 6"))
        top = empty_tops(2, dtype=np.float32)
        layer.layer_setup([], top)
        wait_made(layer, 1)
        layer.forward([], top)                  # batch 0 fine (batch 1, taken early, is not)
        with pytest.raises(DataError, match="decode"):
            layer.forward([], top)
        layer.forward([], top)                  # batch 2 fine again
        layer.close()
