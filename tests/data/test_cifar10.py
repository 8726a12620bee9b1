"""CIFAR-10 conversion on a tiny fake binary archive (tar.gz and extracted folder)."""
import io
import tarfile

import numpy as np
import pytest

from caffeine.cli.main import main
from caffeine.data import cifar10
from caffeine.errors import DataError
from caffeine.io import blobproto_to_array
from caffeine.proto.io import read_blobproto
from caffeine.testing.lmdb_contents import read_datums

PER_BATCH = 4


def _fake_batches(seed=0):
    rng = np.random.default_rng(seed)
    files = {}
    for name in cifar10.TRAIN_FILES + cifar10.TEST_FILES:
        labels = rng.integers(0, 10, PER_BATCH, dtype=np.uint8)
        planes = rng.integers(0, 256, (PER_BATCH, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], planes.reshape(PER_BATCH, -1)], axis=1)
        files[name] = (records.tobytes(), planes, labels)
    return files


def _write_tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, _, _) in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_from_tar_gz_writes_lmdbs_and_mean(tmp_path, capsys):
    files = _fake_batches()
    _write_tar(tmp_path / "cifar-10-binary.tar.gz", files)
    out = tmp_path / "cifar"
    assert main(["data", "cifar10", str(out), "--from", str(tmp_path / "cifar-10-binary.tar.gz")]) == 0
    train = read_datums(out / "train_lmdb")
    assert len(train) == 5 * PER_BATCH
    assert [k for k, _ in train] == [b"%05d" % i for i in range(5 * PER_BATCH)]
    planes = np.concatenate([files[n][1] for n in cifar10.TRAIN_FILES])
    labels = np.concatenate([files[n][2] for n in cifar10.TRAIN_FILES])
    for i, (_, d) in enumerate(train):
        assert (d.channels, d.height, d.width, d.label) == (3, 32, 32, labels[i])
        np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(3, 32, 32), planes[i])
    test = read_datums(out / "test_lmdb")
    assert len(test) == PER_BATCH and test[0][1].label == files["test_batch.bin"][2][0]
    mean = blobproto_to_array(read_blobproto(out / "mean.binaryproto"))
    assert mean.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(mean[0], planes.astype(np.float64).mean(axis=0), rtol=1e-6)


def test_from_extracted_folder_with_bgr(tmp_path):
    files = _fake_batches(1)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name, (data, _, _) in files.items():
        (folder / name).write_bytes(data)
    cifar10.convert(str(tmp_path / "out"), str(tmp_path), bgr=True)
    d = read_datums(tmp_path / "out" / "test_lmdb")[2][1]
    np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(3, 32, 32),
                                  files["test_batch.bin"][1][2][::-1])


def test_bad_inputs(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="not a multiple of 3073"):
        cifar10.convert(str(tmp_path / "o"), str(folder))
    files = _fake_batches()
    part = tmp_path / "part"
    part.mkdir()
    (part / "data_batch_1.bin").write_bytes(files["data_batch_1.bin"][0])
    with pytest.raises(DataError, match="lacks data_batch_2.bin"):
        cifar10.convert(str(tmp_path / "o"), str(part))
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    assert main(["data", "cifar10", str(tmp_path / "o"), "--from", str(tmp_path / "junk.tar.gz")]) == 2
