"""HDF5Data layer: rows of datasets named like the tops, across files, shuffled or not."""
import sys

import numpy as np
import pytest

from caffeine import backend
from caffeine.errors import ConfigError, DataError
from caffeine.testing.layer_helpers import empty_tops, make_layer

h5py = pytest.importorskip("h5py")


@pytest.fixture
def files(tmp_path):
    rows = [5, 3]
    start = 0
    names = []
    for i, n in enumerate(rows):
        path = tmp_path / f"part{i}.h5"
        with h5py.File(path, "w") as f:
            f["data"] = np.arange(start, start + n, dtype=np.float64)[:, None, None] * np.ones((1, 2, 3))
            f["label"] = np.arange(start, start + n, dtype=np.int32)
        start += n
        names.append(path.name)                          # relative to the list file's folder
    (tmp_path / "list.txt").write_text("\n".join(names) + "\n")
    return tmp_path


def _layer(folder, batch=3, shuffle=False, tops=("data", "label")):
    top = " ".join(f'top: "{t}"' for t in tops)
    layer = make_layer(f'name: "h5" type: "HDF5Data" {top} hdf5_data_param {{ '
                       f'source: "{folder / "list.txt"}" batch_size: {batch} shuffle: {str(shuffle).lower()} }}')
    t = empty_tops(len(tops), dtype=np.float32)
    layer.layer_setup([], t)
    return layer, t


def test_rows_in_order_across_files_and_around(files):
    layer, t = _layer(files, batch=3)
    assert t[0].shape == (3, 2, 3) and t[1].shape == (3,)
    labels = []
    for _ in range(4):
        layer.forward([], t)
        labels += t[1].data.tolist()
        np.testing.assert_array_equal(t[0].data[:, 1, 2], t[1].data)
    assert labels == [float(i % 8) for i in range(12)]


def test_shuffle_visits_every_row_once_per_pass(files):
    backend.set_random_seed(4)
    layer, t = _layer(files, batch=8, shuffle=True)
    seen = []
    for _ in range(3):
        layer.forward([], t)
        seen.append(sorted(t[1].data.tolist()))
    assert all(s == [float(i) for i in range(8)] for s in seen)


def test_state_resumes_the_same_stream(files):
    import json
    backend.set_random_seed(2)
    layer, t = _layer(files, batch=3, shuffle=True)
    for _ in range(2):
        layer.forward([], t)
    state = json.loads(json.dumps(layer.get_state()))          # what a snapshot stores
    straight = []
    for _ in range(4):
        layer.forward([], t)
        straight.append(t[1].data.copy())
    backend.set_random_seed(99)
    other, t2 = _layer(files, batch=3, shuffle=True)
    other.set_state(state)
    for want in straight:
        other.forward([], t2)
        np.testing.assert_array_equal(t2[1].data, want)


def test_errors(files, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="batch_size must be positive"):
        _layer(files, batch=0)
    with pytest.raises(DataError, match="has no dataset 'weights'"):
        _layer(files, tops=("data", "weights"))
    (files / "list.txt").write_text("nothere.h5\n")
    with pytest.raises(DataError, match="nothere.h5' does not exist"):
        _layer(files)
    with h5py.File(files / "uneven.h5", "w") as f:
        f["data"] = np.zeros((4, 2))
        f["label"] = np.zeros(3)
    (files / "list.txt").write_text("uneven.h5\n")
    with pytest.raises(DataError, match="different numbers of rows"):
        _layer(files)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(DataError, match="need the h5py package"):
        _layer(files)
