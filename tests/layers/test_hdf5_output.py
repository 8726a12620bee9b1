"""HDF5Output layer: every forward appends its bottoms to datasets data and label."""
import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import blobs_from, make_layer

h5py = pytest.importorskip("h5py")


def test_appends_rows_each_forward(tmp_path):
    path = tmp_path / "out.h5"
    layer = make_layer(f'type: "HDF5Output" bottom: "data" bottom: "label" '
                       f'hdf5_output_param {{ file_name: "{path}" }}')
    rng = np.random.default_rng(0)
    x1, y1 = rng.standard_normal((2, 3, 4)), np.array([1.0, 2.0])
    x2, y2 = rng.standard_normal((2, 3, 4)), np.array([3.0, 4.0])
    bottom = blobs_from(x1, y1, dtype=np.float32)
    layer.layer_setup(bottom, [])
    layer.forward(bottom, [])
    with h5py.File(path, "r") as f:                     # readable while the net runs
        assert f["data"].shape == (2, 3, 4)
    bottom[0].data[...] = x2
    bottom[1].data[...] = y2
    layer.forward(bottom, [])
    layer.close()
    with h5py.File(path, "r") as f:
        np.testing.assert_allclose(f["data"][...], np.concatenate([x1, x2]), rtol=1e-6)
        np.testing.assert_array_equal(f["label"][...], [1, 2, 3, 4])


def test_errors(tmp_path):
    with pytest.raises(ConfigError, match="file_name is not set"):
        make_layer('type: "HDF5Output" bottom: "a" bottom: "b"').layer_setup(
            blobs_from(np.zeros((2, 1)), np.zeros(2)), [])
    layer = make_layer(f'type: "HDF5Output" bottom: "a" bottom: "b" hdf5_output_param {{ file_name: "{tmp_path}/o.h5" }}')
    with pytest.raises(ConfigError, match="same number of rows"):
        layer.layer_setup(blobs_from(np.zeros((2, 1)), np.zeros(3)), [])
    layer.close()
    with pytest.raises(ConfigError, match="wrong number of bottom"):
        make_layer(f'type: "HDF5Output" bottom: "a" hdf5_output_param {{ file_name: "{tmp_path}/p.h5" }}'
                   ).layer_setup(blobs_from(np.zeros((2, 1))), [])
