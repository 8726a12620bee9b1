"""MNIST: converting the real t10k idx files with --from; downloading with checksums."""
import gzip
import hashlib

import lmdb
import numpy as np
import pytest

from caffeine.cli.main import main
from caffeine.data import download, mnist
from caffeine.errors import DataError
from caffeine.proto import caffe_pb2
from caffeine.testing.shared import shared_path


def _idx_labels(path):
    with gzip.open(path) as f:
        raw = f.read()
    return np.frombuffer(raw[8:], dtype=np.uint8)


def test_convert_real_test_set_from_local_folder(tmp_path, capsys):
    folder = shared_path("data", "mnist")
    assert main(["data", "mnist", str(tmp_path / "mnist"), "--from", str(folder)]) == 0
    out = capsys.readouterr()
    assert "10000 test images" in out.out
    assert "Only the test set was found" in out.err
    assert not (tmp_path / "mnist" / "train_lmdb").exists()
    labels = _idx_labels(folder / "t10k-labels-idx1-ubyte.gz")
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 28, 28)
    env = lmdb.open(str(tmp_path / "mnist" / "test_lmdb"), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.stat()["entries"] == 10000
        got = []
        for i, (key, value) in enumerate(txn.cursor()):
            assert key == b"%08d" % i
            d = caffe_pb2.Datum.FromString(value)
            got.append(d.label)
            if i in (0, 4321, 9999):
                assert (d.channels, d.height, d.width) == (1, 28, 28)
                np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(28, 28),
                                              images[i])
    env.close()
    np.testing.assert_array_equal(got, labels)


def test_idx_errors(tmp_path):
    bad = tmp_path / "t10k-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 8)          # a labels magic in an images file
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    with pytest.raises(DataError, match="not an MNIST idx file"):
        mnist.convert(str(tmp_path / "out"), str(tmp_path))
    assert main(["data", "mnist", str(tmp_path / "o"), "--from", str(tmp_path / "none")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no MNIST idx files"):
        mnist.convert(str(tmp_path / "out2"), str(empty))


def test_truncated_idx_is_reported(tmp_path):
    header = np.array([2051, 2, 28, 28], dtype=">u4").tobytes()
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + b"\x00" * 100)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(np.array([2049, 2], ">u4").tobytes() + b"\x01\x02")
    with pytest.raises(DataError, match="truncated"):
        mnist.convert(str(tmp_path / "out"), str(tmp_path))


def test_fetch_tries_mirrors_and_verifies_checksums(tmp_path):
    payload = b"mnist bytes" * 100
    good = tmp_path / "mirror2"
    good.mkdir()
    (good / "f.gz").write_bytes(payload)
    corrupt = tmp_path / "mirror3"
    corrupt.mkdir()
    (corrupt / "f.gz").write_bytes(payload + b"!")
    md5 = hashlib.md5(payload).hexdigest()
    sha = hashlib.sha256(payload).hexdigest()
    mirrors = [(tmp_path / "missing").as_uri() + "/", corrupt.as_uri() + "/", good.as_uri() + "/"]
    path = download.fetch("f.gz", mirrors, md5, str(tmp_path / "dl"))
    with open(path, "rb") as f:
        assert f.read() == payload
    # already there with the right checksum: not fetched again (sha256 accepted too)
    assert download.fetch("f.gz", [], sha, str(tmp_path / "dl")) == path
    with pytest.raises(DataError, match="checksum mismatch"):
        download.fetch("f.gz", [corrupt.as_uri()], md5, str(tmp_path / "dl2"))
    assert not (tmp_path / "dl2" / "f.gz.part").exists()


def test_known_checksums_cover_the_four_files():
    assert set(mnist.GZ_MD5) == set(mnist.RAW_MD5) == {s for pair in mnist.FILES.values() for s in pair}
    assert all(len(v) == 32 for v in list(mnist.GZ_MD5.values()) + list(mnist.RAW_MD5.values()))
