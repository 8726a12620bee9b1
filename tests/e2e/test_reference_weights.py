"""Real Caffe weights on real MNIST give Caffe's numbers (../shared reference data)."""
import gzip

import numpy as np
import pytest

import caffeine
from caffeine.testing.shared import shared_path
from tests.e2e.cli import last_value, lenet_with_sources, run_cli


def _mnist_test_arrays():
    images = gzip.open(shared_path("data", "mnist", "t10k-images-idx3-ubyte.gz")).read()
    labels = gzip.open(shared_path("data", "mnist", "t10k-labels-idx1-ubyte.gz")).read()
    x = np.frombuffer(images, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    y = np.frombuffer(labels, dtype=np.uint8, offset=8)
    return x, y


@pytest.fixture(scope="module")
def mnist_test_lmdb(tmp_path_factory):
    out = tmp_path_factory.mktemp("mnist")
    run_cli("data", "mnist", out, "--from", shared_path("data", "mnist"), check=True)
    return out / "test_lmdb"


def test_bvlc_lenet_gives_caffes_accuracy_and_loss(mnist_test_lmdb, tmp_path):
    model = lenet_with_sources(tmp_path, test_lmdb=mnist_test_lmdb)
    weights = shared_path("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel")
    proc = run_cli("test", "--model", model, "--weights", weights, "--iterations", 100, check=True)
    # real Caffe 1.0: accuracy = 0.9914, loss = 0.0272693
    assert last_value(proc.stderr, "accuracy") == pytest.approx(0.9914, abs=1e-6)
    assert last_value(proc.stderr, "Loss:".rstrip(":")) is None or True
    loss = float(proc.stderr.split("] Loss: ")[-1].split()[0])
    assert loss == pytest.approx(0.0272693, rel=1e-4)


def test_legacy_v1_lenet_deploy_and_weights_give_0_9905():
    x, y = _mnist_test_arrays()
    net = caffeine.Net(str(shared_path("zoo", "legacy_v1", "lenet_v1_deploy.prototxt")),
                       str(shared_path("zoo", "legacy_v1", "lenet_iter_10000.caffemodel")), caffeine.TEST)
    batch = 500
    net.blobs["data"].reshape(batch, 1, 28, 28)
    net.reshape()
    correct = 0
    for i in range(0, len(x), batch):
        out = net.forward(data=x[i:i + batch].astype(np.float32) * 0.00390625)
        correct += int((out["prob"].argmax(1) == y[i:i + batch]).sum())
    assert correct / len(x) == pytest.approx(0.9905, abs=1e-9)
