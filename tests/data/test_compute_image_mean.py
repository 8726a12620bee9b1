"""compute_image_mean equals numpy's mean and loads with caffeine.io.blobproto_to_array."""
import cv2
import numpy as np

from caffeine.cli.main import main
from caffeine.data.db import open_writer, write_datums
from caffeine.io import blobproto_to_array
from caffeine.proto import caffe_pb2
from caffeine.proto.io import read_blobproto


def test_mean_of_raw_datums(tmp_path, capsys):
    images = np.random.default_rng(0).integers(0, 256, (37, 3, 5, 6), dtype=np.uint8)
    write_datums(tmp_path / "db", images, np.zeros(37))
    assert main(["compute_image_mean", str(tmp_path / "db"), str(tmp_path / "mean.binaryproto")]) == 0
    out = capsys.readouterr().out
    mean = blobproto_to_array(read_blobproto(tmp_path / "mean.binaryproto"))
    assert mean.shape == (1, 3, 5, 6)
    want = images.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(mean[0], want, rtol=1e-6)
    for c in range(3):
        assert f"mean_value channel [{c}]: {want[c].mean():.6g}" in out


def test_mean_of_encoded_datums_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (4, 7, 8, 3), dtype=np.uint8)
    with open_writer(tmp_path / "enc") as db:
        for i, img in enumerate(imgs):
            ok, png = cv2.imencode(".png", img)
            db.put(b"%08d" % i, caffe_pb2.Datum(data=png.tobytes(), encoded=True).SerializeToString())
    assert main(["compute_image_mean", "--backend", "lmdb", str(tmp_path / "enc"), str(tmp_path / "m")]) == 0
    mean = blobproto_to_array(read_blobproto(tmp_path / "m"))
    np.testing.assert_allclose(mean[0], imgs.transpose(0, 3, 1, 2).mean(axis=0), rtol=1e-6)
    # sizes differ -> one clear message, exit 2
    with open_writer(tmp_path / "enc") as db:
        db.put(b"99999999", caffe_pb2.Datum(channels=3, height=2, width=2, data=bytes(12)).SerializeToString())
    assert main(["compute_image_mean", str(tmp_path / "enc")]) == 2
    assert main(["compute_image_mean", str(tmp_path / "missing_lmdb")]) == 2
