"""Base class of the prefetching data layers (Caffe's BasePrefetchingDataLayer).

A subclass implements

* ``data_setup(top)``: open its source, return the per-top batch shapes;
* ``read_batch(index)``: the raw items of batch ``index`` — called in batch order,
  one at a time (sequential cursors live here);
* ``process_batch(raw, rng)``: decode + transform into a list of arrays, one per top
  (runs in worker threads; ``rng`` is batch ``index``'s own Generator).

The batches come from a :class:`~caffeine.data.prefetch.PrefetchPipeline`, so they
are the same in every run with the same ``random_seed`` whatever the thread timing.
``wait_seconds`` tells how long the net waited for data; ``seek(i)`` restarts the
stream at batch ``i`` (a resumed solver continues exactly where it stopped).
"""
import logging

import numpy as np

from caffeine import backend
from caffeine.data.prefetch import PrefetchPipeline
from caffeine.data.transformer import DataTransformer
from caffeine.layers.base import Layer

log = logging.getLogger("caffeine")

# data_param / image_data_param / window_data_param fields that Caffe's upgrade moved
# into transform_param (UpgradeNetDataTransformation); honoured here when still set.
_LEGACY_TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")


def merged_transform_param(layer_param, legacy):
    """transform_param with the legacy per-layer fields of ``legacy`` copied in."""
    tp = type(layer_param.transform_param)()
    tp.CopyFrom(layer_param.transform_param)
    if legacy is not None:
        for name in _LEGACY_TRANSFORM_FIELDS:
            if legacy.HasField(name) and not tp.HasField(name):
                setattr(tp, name, getattr(legacy, name))
    return tp


class BasePrefetchingDataLayer(Layer):
    exact_num_bottom = 0
    min_top = 1
    max_top = 2
    prefetch_count = 3       # Caffe's PREFETCH_COUNT
    legacy_param_name = None  # e.g. "data_param": its scale/mean_file/crop/mirror still count

    def setup(self, bottom, top):
        legacy = getattr(self.layer_param, self.legacy_param_name) \
            if self.legacy_param_name else None
        self.transform_param = merged_transform_param(self.layer_param, legacy)
        self.source_dir = getattr(self, "source_dir", None)   # set by Net: the prototxt's folder
        self.transformer = DataTransformer(self.transform_param, self.phase, self.name, self.type,
                                           self.source_dir)
        self.output_labels = len(top) > 1
        # one draw from the global stream seeds everything this layer does at random
        self.seed = int(backend.rng().integers(0, 2**63 - 1))
        self.top_shapes = [tuple(s) for s in self.data_setup(top)]
        for t, shape in zip(top, self.top_shapes):
            t.reshape(shape)
        self.pipeline = None
        self._waited = [0.0, 0]   # wait seconds and stalls of pipelines replaced by seek()
        self._start_pipeline(0)

    def _start_pipeline(self, start_index):
        self.pipeline = PrefetchPipeline(self.read_batch, self.process_batch,
                                         prefetch=self.prefetch_count, seed=self.seed,
                                         start_index=start_index, name=self.name)
        self.pipeline.start()

    # ---- subclass API --------------------------------------------------------------
    def data_setup(self, top):
        raise NotImplementedError

    def read_batch(self, index):
        raise NotImplementedError

    def process_batch(self, raw, rng):
        raise NotImplementedError

    def rewind(self, start_index):
        """Position the source so that read_batch(start_index) comes next (for seek)."""

    # ---- Layer ---------------------------------------------------------------------
    def reshape(self, bottom, top):
        for t, shape in zip(top, self.top_shapes):
            if t.shape != shape:
                t.reshape(shape)

    def forward_cpu(self, bottom, top):
        batch = self.pipeline.next()
        for t, arr in zip(top, batch):
            if t.shape != arr.shape:
                t.reshape(arr.shape)
            t.data[...] = arr
        self.top_shapes = [t.shape for t in top]

    def forward_gpu(self, bottom, top):
        # data layers read on the host in Caffe too; the blob copies to the device lazily
        self.forward_cpu(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    def backward_gpu(self, top, propagate_down, bottom):
        pass

    # ---- pipeline control ----------------------------------------------------------
    @property
    def wait_seconds(self):
        """Seconds forward() spent waiting for a batch not yet prefetched."""
        return self._waited[0] + (self.pipeline.wait_seconds if self.pipeline is not None else 0.0)

    @property
    def stalls(self):
        """How many forward() calls found their batch not yet prefetched."""
        return self._waited[1] + (self.pipeline.stalls if self.pipeline is not None else 0)

    @property
    def batches_consumed(self):
        return self.pipeline.position if self.pipeline is not None else 0

    def seek(self, batch_index):
        """Restart the stream so the next forward() returns batch ``batch_index``."""
        if self.pipeline is not None:
            self.pipeline.close()
            self._waited = [self._waited[0] + self.pipeline.wait_seconds,
                            self._waited[1] + self.pipeline.stalls]
        self.rewind(int(batch_index))
        self._start_pipeline(int(batch_index))

    def close(self):
        if self.pipeline is not None:
            self.pipeline.close()


def stack_labels(labels, dtype=np.float32):
    return np.asarray(labels, dtype=dtype)
