"""MemoryData layer: batches from arrays given from Python (Caffe's MemoryDataLayer).

``memory_data_param { batch_size channels height width }``.  Feed it with
``layer.set_input_arrays(data, labels)`` (pycaffe's ``net.set_input_arrays``: float32
N×C×H×W data, N labels, N a multiple of batch_size; no transform, as Caffe's Reset),
``layer.reset(data, labels, n)``, or ``add_datum_vector`` / ``add_mat_vector`` (these
go through transform_param).  Each forward serves the next ``batch_size`` rows and
wraps around after ``n``; in GPU mode they are copied into the tops' device memory (one
copy per top, nothing on the host side of the blobs).
"""
import logging

import numpy as np

from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer

log = logging.getLogger("caffeine")


@register_layer("MemoryData")
class MemoryDataLayer(Layer):
    exact_num_bottom = 0
    exact_num_top = 2

    def setup(self, bottom, top):
        from caffeine.data.transformer import DataTransformer
        p = self.layer_param.memory_data_param
        self.batch_size, self.channels = int(p.batch_size), int(p.channels)
        self.height, self.width = int(p.height), int(p.width)
        if min(self.batch_size, self.channels, self.height, self.width) <= 0:
            raise self.error("batch_size, channels, height, and width must be specified and "
                             "positive in memory_data_param", field="memory_data_param",
                             expected="all > 0",
                             found=f"{self.batch_size},{self.channels},{self.height},{self.width}")
        self.transformer = DataTransformer(self.layer_param.transform_param, self.phase,
                                           self.name, self.type, getattr(self, "source_dir", None))
        self.data = None
        self.labels = None
        self.n = 0
        self.pos = 0
        self.has_new_data = False
        self.reshape(bottom, top)

    def reshape(self, bottom, top):
        top[0].reshape(self.batch_size, self.channels, self.height, self.width)
        top[1].reshape(self.batch_size)

    # ---- feeding ---------------------------------------------------------------------
    def reset(self, data, labels, n):
        """Serve ``data[:n]`` / ``labels[:n]`` (no transform; Caffe's Reset)."""
        if data is None or labels is None:
            raise self.error("reset needs data and labels", cls=DataError)
        n = int(n)
        if n <= 0 or n % self.batch_size:
            raise self.error("n must be a multiple of batch size", cls=DataError,
                             expected=f"a multiple of {self.batch_size}", found=n)
        if self.layer_param.HasField("transform_param"):
            log.warning("%s does not transform array data on Reset()", self.type)
        self.data = data
        self.labels = labels
        self.n = n
        self.pos = 0

    def set_input_arrays(self, data, labels):
        """pycaffe's Net.set_input_arrays: float32 C-contiguous N×C×H×W data and N labels."""
        data, labels = np.asarray(data), np.asarray(labels)
        if data.dtype != np.float32 or labels.dtype != np.float32:
            raise self.error("data and labels must be float32 arrays", cls=DataError,
                             expected="float32", found=f"{data.dtype}, {labels.dtype}")
        if not (data.flags["C_CONTIGUOUS"] and labels.flags["C_CONTIGUOUS"]):
            raise self.error("data and labels must be C-contiguous", cls=DataError)
        if data.ndim != 4:
            raise self.error("data must be 4-D (N x C x H x W)", cls=DataError, expected=4,
                             found=data.ndim)
        if data.shape[1:] != (self.channels, self.height, self.width):
            raise self.error("data does not match memory_data_param's channels x height x width",
                             cls=DataError, expected=(self.channels, self.height, self.width),
                             found=data.shape[1:])
        if labels.shape[0] != data.shape[0] or labels.size != data.shape[0]:
            raise self.error("data and labels must have the same first dimension",
                             cls=DataError, expected=data.shape[0], found=labels.shape)
        if data.shape[0] % self.batch_size:
            raise self.error("first dimensions of input arrays must be a multiple of batch size",
                             cls=DataError, expected=f"a multiple of {self.batch_size}",
                             found=data.shape[0])
        self.reset(data, labels.reshape(-1), data.shape[0])

    def set_batch_size(self, new_size):
        if self.has_new_data:
            raise self.error("Can't change batch_size until current data has been consumed.",
                             cls=DataError)
        if int(new_size) <= 0:
            raise self.error("batch_size must be positive", expected="> 0", found=new_size)
        self.batch_size = int(new_size)

    def _add(self, items, labels, rng=None):
        if self.has_new_data:
            raise self.error("Can't add data until current data has been consumed.",
                             cls=DataError)
        num = len(items)
        if num == 0 or num % self.batch_size:
            raise self.error("The added data must be a multiple of the batch size.",
                             cls=DataError, expected=f"a multiple of {self.batch_size}", found=num)
        data = self.transformer.transform(items, rng if rng is not None else self.rng)
        if data.shape[1:] != (self.channels, self.height, self.width):
            raise self.error("transformed data does not match memory_data_param", cls=DataError,
                             expected=(self.channels, self.height, self.width),
                             found=data.shape[1:])
        self.reset(np.ascontiguousarray(data, dtype=np.float32),
                   np.asarray(labels, dtype=np.float32), num)
        self.has_new_data = True

    def add_datum_vector(self, datums):
        """Transform Datums (transform_param) and serve them."""
        self._add([self.transformer.decode(d) for d in datums], [d.label for d in datums])

    def add_mat_vector(self, mats, labels):
        """Transform H×W×C (BGR) or H×W uint8 images and serve them with ``labels``."""
        items = [np.asarray(m)[None] if np.ndim(m) == 2 else np.asarray(m).transpose(2, 0, 1)
                 for m in mats]
        if len(labels) != len(items):
            raise self.error("one label per image", cls=DataError, expected=len(items),
                             found=len(labels))
        self._add(items, labels)

    def get_state(self):
        """The read position (the arrays themselves come from Python again on resume)."""
        return {"pos": int(self.pos)}

    def set_state(self, state):
        self.pos = int(state["pos"]) % self.n if self.n else 0

    # ---- forward ---------------------------------------------------------------------
    def _next_batch(self):
        """(data rows, labels) of the next batch; advances the read position."""
        if self.data is None:
            raise self.error("MemoryDataLayer needs to be initialized by calling "
                             "set_input_arrays (pycaffe) or reset", cls=DataError)
        b = self.batch_size
        data = self.data[self.pos:self.pos + b]
        labels = np.asarray(self.labels[self.pos:self.pos + b]).reshape(b)
        self.pos = (self.pos + b) % self.n
        if self.pos == 0:
            self.has_new_data = False
        return data, labels

    def forward_cpu(self, bottom, top):
        data, labels = self._next_batch()
        top[0].data[...] = data
        top[1].data[...] = labels

    def forward_gpu(self, bottom, top):
        # no device work: the rows go straight from the user's arrays into the tops'
        # device memory, one host->device copy per top
        self._log_host_fallback()
        for t, rows in zip(top, self._next_batch()):
            t.gpu_data.set(np.ascontiguousarray(rows, dtype=t.dtype))

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    backward_gpu = backward_cpu
