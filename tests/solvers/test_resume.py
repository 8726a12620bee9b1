"""Resume is bit-exact: N straight iterations == k, snapshot, restore, N-k more.

Also: same seed -> byte-identical caffemodels; Caffe's legacy V1 solverstates restore
and continue; a resumed LMDB Data layer continues from the right record.
"""
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.errors import WeightsError
from caffeine.proto import caffe_pb2
from caffeine.proto import io as proto_io
from caffeine.solvers import SOLVERS, SGDSolver, get_solver
from caffeine.solvers import snapshot as snap
from solver_testlib import DROPOUT_NET, RULE_SETTINGS, solver_param

N, K = 6, 4


def resume_param(rule, prefix, max_iter, fmt):
    p = solver_param(f"""
        type: "{rule}" {RULE_SETTINGS[rule]}
        lr_policy: "multistep" gamma: 0.5 stepvalue: 2 stepvalue: 5
        weight_decay: 0.01 iter_size: 2 average_loss: 3 display: 2
        test_iter: 2 test_interval: 3 max_iter: {max_iter} random_seed: 1701
        snapshot_prefix: "{prefix}" snapshot_format: {fmt}""", net=DROPOUT_NET)
    return p


def model_bytes(prefix, it, fmt):
    ext = ".caffemodel.h5" if fmt == "HDF5" else ".caffemodel"
    with open(f"{prefix}_iter_{it}{ext}", "rb") as f:
        return f.read()


@pytest.mark.parametrize("fmt", ["BINARYPROTO", "HDF5"])
@pytest.mark.parametrize("rule", sorted(SOLVERS))
def test_resume_is_byte_identical(rule, fmt, tmp_path):
    straight = str(tmp_path / "straight" / "net")
    split = str(tmp_path / "split" / "net")
    (tmp_path / "straight").mkdir()
    (tmp_path / "split").mkdir()
    get_solver(resume_param(rule, straight, N, fmt)).solve()
    get_solver(resume_param(rule, split, K, fmt)).solve()
    ext = ".solverstate.h5" if fmt == "HDF5" else ".solverstate"
    resumed = get_solver(resume_param(rule, split, N, fmt))
    resumed.solve(resume_file=f"{split}_iter_{K}{ext}")
    assert resumed.iter == N
    assert model_bytes(straight, N, fmt) == model_bytes(split, N, fmt)
    # the histories agree too (the solverstates differ only in the learned_net path)
    a = snap.read_state(f"{straight}_iter_{N}{ext}")
    b = snap.read_state(f"{split}_iter_{N}{ext}")
    assert a[0] == b[0] == N and a[2] == b[2] == 2
    for x, y in zip(a[3], b[3]):
        np.testing.assert_array_equal(x, y)


def test_same_seed_gives_byte_identical_models(tmp_path):
    paths = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        prefix = str(tmp_path / run / "net")
        get_solver(resume_param("SGD", prefix, N, "BINARYPROTO")).solve()
        paths.append(model_bytes(prefix, N, "BINARYPROTO"))
    assert paths[0] == paths[1]
    (tmp_path / "c").mkdir()
    p = resume_param("SGD", str(tmp_path / "c" / "net"), N, "BINARYPROTO")
    p.random_seed = 1702
    get_solver(p).solve()
    assert model_bytes(str(tmp_path / "c" / "net"), N, "BINARYPROTO") != paths[0]


def test_binary_solverstate_is_caffes_message(tmp_path):
    prefix = str(tmp_path / "net")
    solver = get_solver(resume_param("Adam", prefix, 3, "BINARYPROTO"))
    solver.solve()
    state = caffe_pb2.SolverState()
    state.ParseFromString(Path(f"{prefix}_iter_3.solverstate").read_bytes())
    assert state.iter == 3 and state.current_step == 1
    assert state.learned_net == f"{prefix}_iter_3.caffemodel"
    params = solver.net.learnable_params
    assert len(state.history) == 2 * len(params)          # Adam: m then v
    for proto, blob in zip(state.history, solver.history):
        assert tuple(proto.shape.dim) == blob.shape
        np.testing.assert_array_equal(np.asarray(proto.data, np.float32).reshape(blob.shape), blob.data)
    model = proto_io.read_net_binary(f"{prefix}_iter_3.caffemodel")
    ip1 = [layer for layer in model.layer if layer.name == "ip1"][0]
    np.testing.assert_array_equal(np.asarray(ip1.blobs[0].data, np.float32).reshape(10, 6),
                                  solver.net.params["ip1"][0].data)


def test_hdf5_layout_is_caffes(tmp_path):
    h5py = pytest.importorskip("h5py")
    prefix = str(tmp_path / "net")
    p = resume_param("AdaDelta", prefix, 2, "HDF5")
    p.snapshot_diff = True
    solver = get_solver(p)
    solver.solve()
    with h5py.File(f"{prefix}_iter_2.caffemodel.h5", "r") as f:
        assert set(f) == {"data", "diff"}
        assert set(f["data"]) == set(solver.net.layer_names)  # a group per layer, as Net::ToHDF5
        np.testing.assert_array_equal(f["data/ip2/0"][()], solver.net.params["ip2"][0].data)
        assert f["data/ip1/1"].dtype == np.float32
    with h5py.File(f"{prefix}_iter_2.solverstate.h5", "r") as f:
        assert f["iter"][()].tolist() == [2] and f["current_step"][()].tolist() == [0]
        assert f["learned_net"][()].decode().rstrip("\0") == f"{prefix}_iter_2.caffemodel.h5"
        assert len(f["history"]) == 2 * len(solver.net.learnable_params)


def test_restore_rejects_a_state_for_another_rule(tmp_path):
    prefix = str(tmp_path / "net")
    get_solver(resume_param("SGD", prefix, 2, "BINARYPROTO")).solve()
    adam = get_solver(resume_param("Adam", prefix, 4, "BINARYPROTO"))
    with pytest.raises(WeightsError, match="history blobs"):
        adam.restore(f"{prefix}_iter_2.solverstate")


def test_restore_without_side_file_still_works(tmp_path):
    prefix = str(tmp_path / "net")
    get_solver(resume_param("SGD", prefix, 2, "BINARYPROTO")).solve()
    (tmp_path / "net_iter_2.solverstate.rng").unlink()
    solver = get_solver(resume_param("SGD", prefix, 4, "BINARYPROTO"))
    solver.solve(resume_file=f"{prefix}_iter_2.solverstate")
    assert solver.iter == 4


# ---- Caffe's own (V1-era) solverstates -----------------------------------------------------

def train_net_from_deploy(deploy_path, batch):
    """Caffe's V1 deploy net made trainable: DummyData in place of the input, a softmax loss."""
    deploy = proto_io.read_net_param(str(deploy_path))
    shape = list(deploy.layer[0].input_param.shape[0].dim)
    net = caffe_pb2.NetParameter()
    net.name = deploy.name
    text_format.Parse(f"""name: "data" type: "DummyData" top: "data" top: "label"
        dummy_data_param {{ shape {{ dim: {batch} dim: {shape[1]} dim: {shape[2]} dim: {shape[3]} }}
          shape {{ dim: {batch} }} data_filler {{ type: "gaussian" std: 50 }}
          data_filler {{ type: "constant" value: 3 }} }}""", net.layer.add())
    for layer in deploy.layer[1:]:
        if layer.type == "Softmax":
            text_format.Parse(f"""name: "loss" type: "SoftmaxWithLoss" bottom: "{layer.bottom[0]}"
                bottom: "label" top: "loss" """, net.layer.add())
        else:
            net.layer.add().CopyFrom(layer)
    return net


@pytest.mark.parametrize("name, it", [("lenet", 10000), ("cifar10_quick", 5000)])
def test_legacy_v1_solverstate_restores_and_continues(name, it, shared):
    state_path = shared("zoo", "legacy_v1", f"{name}_iter_{it}.solverstate")
    deploy = shared("zoo", "legacy_v1", f"{name}_v1_deploy.prototxt")
    p = caffe_pb2.SolverParameter()
    p.train_net_param.CopyFrom(train_net_from_deploy(deploy, 2))
    text_format.Parse('base_lr: 0.001 momentum: 0.9 weight_decay: 0.0005 lr_policy: "fixed" '
                      f'max_iter: {it + 2} random_seed: 1 snapshot_after_train: false', p)
    solver = SGDSolver(p)
    solver.restore(str(state_path))
    assert solver.iter == it
    # the learned net (found next to the solverstate) and the momentum history are loaded
    model = proto_io.read_net_binary(str(shared("zoo", "legacy_v1", f"{name}_iter_{it}.caffemodel")))
    conv1 = [layer for layer in model.layer if layer.name == "conv1"][0]
    np.testing.assert_array_equal(solver.net.params["conv1"][0].data.ravel(),
                                  np.asarray(conv1.blobs[0].data, np.float32))
    state = proto_io.read_solver_state(str(state_path))
    assert len(state.history) == len(solver.history)
    for proto, blob in zip(state.history, solver.history):
        np.testing.assert_array_equal(blob.data.ravel(), np.asarray(proto.data, np.float32))
    before = [b.data.copy() for b in solver.net.learnable_params]
    momentum = [h.data.copy() for h in solver.history]
    solver.solve()
    assert solver.iter == it + 2
    for b, w0, h0 in zip(solver.net.learnable_params, before, momentum):
        assert np.all(np.isfinite(b.data))
        # SGD with momentum: the first step includes 0.9 * the restored history
        assert not np.array_equal(b.data, w0) or not np.any(h0)


# ---- an LMDB Data layer continues from the record it stopped at ------------------------------

def make_lmdb(path, n=10):
    lmdb = pytest.importorskip("lmdb")
    rng = np.random.default_rng(0)
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(n):
            datum = caffe_pb2.Datum(channels=1, height=3, width=3, label=i % 3,
                                    data=rng.integers(0, 255, 9, dtype=np.uint8).tobytes())
            txn.put(f"{i:08d}".encode(), datum.SerializeToString())
    env.close()


DATA_NET = """
name: "lmdb"
layer { name: "data" type: "Data" top: "data" top: "label"
  data_param { source: "SOURCE" batch_size: 3 backend: LMDB }
  transform_param { scale: 0.00390625 mirror: true } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


def test_data_layer_position_is_restored(tmp_path):
    make_lmdb(tmp_path / "db")
    net = DATA_NET.replace("SOURCE", str(tmp_path / "db"))

    def param(prefix, max_iter):
        return solver_param(f"""base_lr: 0.1 momentum: 0.9 lr_policy: "fixed" random_seed: 3
            max_iter: {max_iter} snapshot_prefix: "{prefix}" """, net=net)

    for run in ("straight", "split"):
        (tmp_path / run).mkdir()
    straight, split = str(tmp_path / "straight" / "m"), str(tmp_path / "split" / "m")
    get_solver(param(straight, 7)).solve()
    get_solver(param(split, 4)).solve()
    resumed = get_solver(param(split, 7))
    resumed.solve(resume_file=f"{split}_iter_4.solverstate")
    assert model_bytes(straight, 7, "BINARYPROTO") == model_bytes(split, 7, "BINARYPROTO")


def test_cli_resume_with_snapshot_flag_is_byte_identical(tmp_path):
    from solver_testlib import run_cli, write
    write(tmp_path / "net.prototxt", DROPOUT_NET)
    for run in ("straight", "split"):
        (tmp_path / run).mkdir()
        write(tmp_path / f"{run}.prototxt", f'net: "net.prototxt" type: "Nesterov" base_lr: 0.05 '
              f'momentum: 0.9 lr_policy: "step" gamma: 0.5 stepsize: 2 max_iter: 6 random_seed: 9 '
              f'snapshot_prefix: "{run}/m"\n')
    assert run_cli(["train", "--solver", "straight.prototxt"], cwd=tmp_path).returncode == 0
    first = run_cli(["train", "--solver", "split.prototxt", "--iterations", "3"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_cli(["train", "--solver", "split.prototxt", "--snapshot", "split/m_iter_3.solverstate"],
                     cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Restoring previous solver status from split/m_iter_3.solverstate" in second.stderr
    assert (tmp_path / "straight" / "m_iter_6.caffemodel").read_bytes() == \
        (tmp_path / "split" / "m_iter_6.caffemodel").read_bytes()
