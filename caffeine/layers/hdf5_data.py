"""HDF5Data layer: rows of HDF5 datasets named like the tops (Caffe's HDF5DataLayer).

``hdf5_data_param { source batch_size shuffle }``: ``source`` is a text file listing
``.h5`` files, one per line.  Each file holds one dataset per top (same name, same
number of rows); the layer serves ``batch_size`` rows at a time, moving on to the
next file when one is used up and looping around at the end.  With ``shuffle`` the
file order is shuffled each pass and the rows of each file when it is loaded.
Needs the optional ``h5py`` package (``pip install 'caffeine-dl[hdf5]'``).
"""
import logging
import os

import numpy as np

from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.paths import resolve_path

log = logging.getLogger("caffeine")


def import_h5py(layer=None, layer_type=None):
    try:
        import h5py  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise DataError("HDF5 layers need the h5py package: pip install 'caffeine-dl[hdf5]'",
                        layer=layer, layer_type=layer_type) from None
    return h5py


@register_layer("HDF5Data")
class HDF5DataLayer(Layer):
    exact_num_bottom = 0
    min_top = 1

    def setup(self, bottom, top):
        self.h5py = import_h5py(self.name, self.type)
        p = self.layer_param.hdf5_data_param
        self.batch_size = int(p.batch_size)
        if self.batch_size <= 0:
            raise self.error("batch_size must be positive", field="batch_size", expected="> 0",
                             found=self.batch_size)
        self.shuffle = bool(p.shuffle)
        self.top_names = list(self.layer_param.top)
        if len(self.top_names) < len(top):
            self.top_names += [f"top{i}" for i in range(len(self.top_names), len(top))]
        source = resolve_path(p.source, getattr(self, "source_dir", None))
        log.info("Loading list of HDF5 filenames from: %s", source)
        if not os.path.isfile(source):
            raise self.error(f"HDF5 source list '{source}' does not exist", cls=DataError,
                             file=source, field="source")
        base = os.path.dirname(source)
        with open(source, encoding="utf-8") as f:
            names = [ln.strip() for ln in f if ln.strip()]
        self.files = [n if os.path.exists(n) or os.path.isabs(n) else
                      (os.path.join(base, n) if os.path.exists(os.path.join(base, n)) else n)
                      for n in names]
        log.info("Number of HDF5 files: %d", len(self.files))
        if not self.files:
            raise self.error(f"HDF5 source list '{source}' names no files", cls=DataError,
                             file=source)
        self.shuffle_rng = np.random.default_rng([int(self.rng.integers(0, 2**63 - 1)), 0x4D5F])
        self.file_order = np.arange(len(self.files))
        if self.shuffle:
            self.file_order = self.shuffle_rng.permutation(len(self.files))
            log.info("Shuffling data")
        self.file_pos = 0
        self._load(self.file_order[0])
        for t, arr in zip(top, self.data):
            t.reshape((self.batch_size,) + arr.shape[1:])

    def _load(self, file_index):
        path = self.files[file_index]
        log.info("Loading HDF5 file: %s", path)
        if not os.path.exists(path):
            raise self.error(f"HDF5 file '{path}' does not exist", cls=DataError, file=path)
        try:
            with self.h5py.File(path, "r") as f:
                data = []
                for name in self.top_names:
                    if name not in f:
                        raise self.error(f"HDF5 file '{path}' has no dataset '{name}'",
                                         cls=DataError, file=path, blob=name,
                                         expected=name, found=", ".join(f.keys()))
                    arr = np.asarray(f[name][...], dtype=np.float64)
                    if arr.ndim == 0:
                        raise self.error(f"dataset '{name}' in '{path}' is a scalar",
                                         cls=DataError, file=path, blob=name)
                    data.append(arr)
        except OSError as exc:
            raise self.error(f"cannot read HDF5 file '{path}': {exc}", cls=DataError,
                             file=path) from None
        rows = {len(a) for a in data}
        if len(rows) != 1:
            raise self.error(f"datasets in '{path}' have different numbers of rows", cls=DataError,
                             file=path, expected="one count", found=sorted(rows))
        self.rows = rows.pop()
        if self.rows == 0:
            raise self.error(f"HDF5 file '{path}' has no rows", cls=DataError, file=path)
        self.data = data
        log.info("Successfully loaded %d rows", self.rows)
        self.row_order = self.shuffle_rng.permutation(self.rows) if self.shuffle else np.arange(self.rows)
        self.row_pos = 0

    def _next_file(self):
        self.file_pos += 1
        if self.file_pos == len(self.files):
            self.file_pos = 0
            if self.shuffle:
                self.file_order = self.shuffle_rng.permutation(len(self.files))
            log.debug("Looping around to first file.")
        if len(self.files) > 1:
            self._load(self.file_order[self.file_pos])    # (reshuffles its rows)
        else:
            self.row_pos = 0
            if self.shuffle:
                self.row_order = self.shuffle_rng.permutation(self.rows)

    # ---- exact resume (the solver's snapshot side file stores this as JSON) ----------
    def get_state(self):
        return {"file_order": [int(i) for i in self.file_order], "file_pos": int(self.file_pos),
                "row_order": [int(i) for i in self.row_order], "row_pos": int(self.row_pos),
                "rng": self.shuffle_rng.bit_generator.state}

    def set_state(self, state):
        self.file_order = np.asarray(state["file_order"], dtype=np.int64)
        self.file_pos = int(state["file_pos"])
        self._load(self.file_order[self.file_pos])
        self.row_order = np.asarray(state["row_order"], dtype=np.int64)
        self.row_pos = int(state["row_pos"])
        self.shuffle_rng.bit_generator.state = state["rng"]

    def reshape(self, bottom, top):
        for t, arr in zip(top, self.data):
            shape = (self.batch_size,) + arr.shape[1:]
            if t.shape != shape:
                t.reshape(shape)

    def _fill(self, outs):
        """Copy the next batch_size rows of every dataset into ``outs`` (one array per top)."""
        filled = 0
        while filled < self.batch_size:
            take = min(self.batch_size - filled, self.rows - self.row_pos)
            rows = self.row_order[self.row_pos:self.row_pos + take]
            for out, arr in zip(outs, self.data):
                out[filled:filled + take] = arr[rows]
            filled += take
            self.row_pos += take
            if self.row_pos == self.rows:
                self._next_file()

    def forward_cpu(self, bottom, top):
        self._fill([t.data for t in top])

    def forward_gpu(self, bottom, top):
        # rows are gathered on the host (Caffe copies them row by row); the batch then
        # goes to each top's device memory in one host->device copy
        self._log_host_fallback()
        staging = self.__dict__.setdefault("_staging", {})
        outs = []
        for i, t in enumerate(top):
            buf = staging.get(i)
            if buf is None or buf.shape != t.shape or buf.dtype != t.dtype:
                buf = staging[i] = np.empty(t.shape, dtype=t.dtype)
            outs.append(buf)
        self._fill(outs)
        for t, buf in zip(top, outs):
            t.gpu_data.set(buf)

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    backward_gpu = backward_cpu
