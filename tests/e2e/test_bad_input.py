"""Bad input: one clear message naming file/line/layer, exit status 2, no traceback,
and nothing already on disk is lost (issue 3)."""

from tests.e2e.cli import REPO, run_cli

GOOD_NET = (REPO / "models" / "lenet" / "deploy.prototxt").read_text()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def solver_for(tmp_path, net_text, extra=""):
    net = write(tmp_path, "net.prototxt", net_text)
    return write(tmp_path, "solver.prototxt",
                 f'net: "{net}"\nbase_lr: 0.01\nlr_policy: "fixed"\nmax_iter: 2\n'
                 f'snapshot_prefix: "{tmp_path / "snap"}"\n{extra}')


def train_net(batch=4, kernel=5, source=None):
    """A trainable net: DummyData (or an LMDB Data layer) -> conv -> ip -> loss."""
    data = (f'layer {{ name: "data" type: "DummyData" top: "data" top: "label" dummy_data_param {{ '
            f'shape {{ dim: {batch} dim: 1 dim: 28 dim: 28 }} shape {{ dim: {batch} }} }} }}')
    if source:
        data = (f'layer {{ name: "data" type: "Data" top: "data" top: "label" '
                f'data_param {{ source: "{source}" batch_size: {batch} }} }}')
    return data + f'''
layer {{ name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param {{ num_output: 4 kernel_size: {kernel} }} }}
layer {{ name: "ip" type: "InnerProduct" bottom: "conv1" top: "ip" inner_product_param {{ num_output: 10 }} }}
layer {{ name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }}
'''


def assert_clean_failure(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    error_lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert error_lines, proc.stderr
    message = error_lines[-1]
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_prototxt_syntax_error_names_file_line_and_column(tmp_path):
    bad = write(tmp_path, "bad.prototxt", GOOD_NET.replace('type: "Pooling"', 'type "Pooling"', 1))
    line = GOOD_NET.replace('type: "Pooling"', 'type "Pooling"', 1).splitlines().index('  type "Pooling"') + 1
    proc = run_cli("test", "--model", bad, "--iterations", 1)
    assert_clean_failure(proc, f"bad.prototxt:{line}:")


def test_unknown_layer_type_suggests_the_closest(tmp_path):
    bad = write(tmp_path, "bad.prototxt", GOOD_NET.replace('type: "Pooling"', 'type: "Poolling"', 1))
    proc = run_cli("test", "--model", bad, "--iterations", 1)
    assert_clean_failure(proc, "bad.prototxt", "layer 'pool1'", "Poolling", "did you mean 'Pooling'")


def test_missing_bottom_blob(tmp_path):
    bad = write(tmp_path, "bad.prototxt", GOOD_NET.replace('bottom: "pool1"', 'bottom: "pool_1"', 1))
    proc = run_cli("test", "--model", bad, "--iterations", 1)
    assert_clean_failure(proc, "bad.prototxt", "layer 'conv2'", "unknown bottom blob 'pool_1'")


def test_weight_shape_mismatch_on_copy(tmp_path, shared):
    wide = write(tmp_path, "wide.prototxt", GOOD_NET.replace("num_output: 500", "num_output: 400"))
    weights = shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel")
    proc = run_cli("test", "--model", wide, "--weights", weights, "--iterations", 1)
    assert_clean_failure(proc, "lenet_iter_10000.caffemodel", "layer 'ip1'", "shape mismatch", "(400, 800)",
                         "(500, 800)")


def test_truncated_and_non_caffemodel_files(tmp_path, shared):
    model = write(tmp_path, "deploy.prototxt", GOOD_NET)
    real = shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel").read_bytes()
    truncated = tmp_path / "truncated.caffemodel"
    truncated.write_bytes(real[: len(real) // 2])
    proc = run_cli("test", "--model", model, "--weights", truncated, "--iterations", 1)
    assert_clean_failure(proc, "truncated.caffemodel", "truncated")
    text = write(tmp_path, "notes.caffemodel", "this is not a model\n")
    proc = run_cli("test", "--model", model, "--weights", text, "--iterations", 1)
    assert_clean_failure(proc, "notes.caffemodel")


def test_missing_files(tmp_path):
    proc = run_cli("train", "--solver", tmp_path / "nope.prototxt")
    assert_clean_failure(proc, "nope.prototxt")
    proc = run_cli("test", "--model", tmp_path / "missing.prototxt")
    assert_clean_failure(proc, "missing.prototxt")


def test_missing_lmdb_names_layer_and_path(tmp_path):
    solver = solver_for(tmp_path, train_net(source=tmp_path / "no_such_lmdb"))
    proc = run_cli("train", "--solver", solver)
    assert_clean_failure(proc, "layer 'data'", "no_such_lmdb")


def test_bad_flag_is_a_usage_error(tmp_path):
    proc = run_cli("train", "--solverr", "x.prototxt")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--solverr" in proc.stderr
    proc = run_cli("tarin")
    assert proc.returncode == 2 and "did you mean 'train'" in proc.stderr.lower()


def test_zero_batch_size(tmp_path):
    import caffeine.io
    import lmdb
    import numpy as np
    env = lmdb.open(str(tmp_path / "tiny_lmdb"), map_size=1 << 22)
    with env.begin(write=True) as txn:
        for i in range(4):
            datum = caffeine.io.array_to_datum(np.zeros((1, 28, 28), np.uint8), label=i)
            txn.put(b"%08d" % i, datum.SerializeToString())
    env.close()
    solver = solver_for(tmp_path, train_net(batch=0, source=tmp_path / "tiny_lmdb"))
    proc = run_cli("train", "--solver", solver)
    assert_clean_failure(proc, "net.prototxt", "layer 'data'", "batch_size")


def test_kernel_larger_than_input(tmp_path):
    solver = solver_for(tmp_path, train_net(kernel=31))
    proc = run_cli("train", "--solver", solver)
    assert_clean_failure(proc, "net.prototxt", "layer 'conv1'", "kernel")


def test_negative_lr_keeps_existing_snapshots(tmp_path):
    snap = tmp_path / "snap_iter_100.caffemodel"
    snap.write_bytes(b"previous snapshot")
    state = tmp_path / "snap_iter_100.solverstate"
    state.write_bytes(b"previous state")
    solver = solver_for(tmp_path, train_net()).read_text().replace("base_lr: 0.01", "base_lr: -0.01")
    solver_path = write(tmp_path, "solver.prototxt", solver)
    proc = run_cli("train", "--solver", solver_path)
    assert_clean_failure(proc, "solver.prototxt", "base_lr")
    assert snap.read_bytes() == b"previous snapshot" and state.read_bytes() == b"previous state"


def test_good_solver_for_these_nets_trains(tmp_path):
    """Control: the same scaffolding with good values trains, so the failures above are real."""
    solver = solver_for(tmp_path, train_net())
    proc = run_cli("train", "--solver", solver)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "snap_iter_2.caffemodel").exists()
