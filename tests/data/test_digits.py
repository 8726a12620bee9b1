"""The built-in synthetic digits: counts, determinism, shapes, LMDB layout, CLI."""
import filecmp

import numpy as np
import pytest

from caffeine.cli.main import main
from caffeine.data import digits
from caffeine.proto import caffe_pb2
from caffeine.testing.lmdb_contents import read_lmdb


def test_generate_shapes_labels_and_determinism():
    a, la = digits.generate(300, seed=11)
    b, lb = digits.generate(300, seed=11)
    c, _ = digits.generate(300, seed=12)
    assert a.shape == (300, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)
    assert np.bincount(la, minlength=10).tolist() == [30] * 10      # balanced classes
    # white digits on a black background, like MNIST
    border = np.concatenate([a[:, :2].ravel(), a[:, -2:].ravel(), a[:, :, :2].ravel()])
    assert border.mean() < 15 and a.max() == 255
    assert a[:, 8:20, 8:20].mean() > 3 * border.mean()


def test_samples_vary_within_a_class():
    images, labels = digits.generate(200, seed=3)
    sevens = images[labels == 7].astype(np.float32)
    diffs = np.abs(sevens[:, None] - sevens[None]).mean(axis=(2, 3))
    assert diffs[np.triu_indices(len(sevens), 1)].min() > 2.0       # no two alike


def test_classes_are_learnable_but_not_trivial():
    # nearest class mean: well above chance (10 %), well below LeNet's >= 97 %
    x, y = digits.generate(1500, seed=1)
    xt, yt = digits.generate(500, seed=2)
    x, xt = x.reshape(len(x), -1) / 255.0, xt.reshape(len(xt), -1) / 255.0
    centroids = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    dist = (xt ** 2).sum(1)[:, None] - 2 * xt @ centroids.T + (centroids ** 2).sum(1)[None]
    acc = (np.argmin(dist, axis=1) == yt).mean()
    assert 0.35 < acc < 0.9


def test_default_sizes():
    assert digits.DEFAULT_TRAIN >= 20000 and digits.DEFAULT_TEST >= 4000


def test_build_writes_mnist_layout_byte_identically(tmp_path):
    digits.build(tmp_path / "a", train=120, test=40, seed=5)
    digits.build(tmp_path / "b", train=120, test=40, seed=5)
    for split, n in (("train", 120), ("test", 40)):
        items = read_lmdb(tmp_path / "a" / f"{split}_lmdb")
        assert [k for k, _ in items] == [b"%08d" % i for i in range(n)]
        d = caffe_pb2.Datum.FromString(items[0][1])
        assert (d.channels, d.height, d.width, len(d.data), d.encoded) == (1, 28, 28, 784, False)
        assert 0 <= d.label <= 9
        assert filecmp.cmp(tmp_path / "a" / f"{split}_lmdb" / "data.mdb",
                           tmp_path / "b" / f"{split}_lmdb" / "data.mdb", shallow=False)
    train = {v for _, v in read_lmdb(tmp_path / "a" / "train_lmdb")}
    test = {v for _, v in read_lmdb(tmp_path / "a" / "test_lmdb")}
    assert not train & test                                            # distinct splits


def test_cli(tmp_path, capsys):
    assert main(["data", "digits", str(tmp_path / "d"), "--train", "50", "--test", "20"]) == 0
    assert "50 train and 20 test digits" in capsys.readouterr().out
    assert len(read_lmdb(tmp_path / "d" / "test_lmdb")) == 20
    assert main(["data", "digits", str(tmp_path / "d"), "-train", "-5"]) == 2


@pytest.mark.slow
def test_lenet_reaches_97_percent():
    """Caffe's LeNet (trained here with torch as an independent trainer) learns the set."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y = digits.generate(12800, seed=21)
    xt, yt = digits.generate(2000, seed=22)
    x = torch.tensor(x[:, None] / 256.0, dtype=torch.float32)     # scale: 0.00390625
    xt = torch.tensor(xt[:, None] / 256.0, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.int64)
    net = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    for it in range(1000):                                         # lenet_solver.prototxt's rule
        for group in opt.param_groups:
            group["lr"] = 0.01 * (1 + 1e-4 * it) ** -0.75
        i = (it * 64) % len(x)
        loss = nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (net(xt).argmax(1).numpy() == yt).mean()
    assert acc >= 0.97, acc
