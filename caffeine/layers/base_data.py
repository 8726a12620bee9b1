"""Base class of the prefetching data layers (Caffe's BasePrefetchingDataLayer).

A subclass implements

* ``data_setup(top)``: open its source, return the per-top batch shapes;
* ``read_batch(index)``: the raw items of batch ``index`` — called in batch order,
  one at a time (sequential cursors live here);
* ``load_batch(raw)``: decode into (items, labels); the default ``process_batch(raw,
  rng)`` transforms them into a list of arrays, one per top (runs in worker threads;
  ``rng`` is batch ``index``'s own Generator).  A layer with its own transform overrides
  ``process_batch``, and for the GPU path ``stage_batch`` and ``launch_transform``.

In GPU mode the workers call ``stage_batch`` instead: the batch stays uint8 and goes to
a pinned buffer with the transform's random choices, and forward copies it to the device
once and transforms it there (``caffeine.cuda_layers.data_gpu``); the batches are the
same as on the CPU.  A mode switch restarts the pipeline at the current batch in the
other form.

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
    has_gpu_kernel = True     # the transform runs on the device (layers_cuda/data_transform.cu)

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
        self.feed = None          # the device side (GPU mode), made on first use
        self._waited = [0.0, 0]   # wait seconds and stalls of pipelines replaced by seek()
        self._start_pipeline(0, backend.is_gpu())

    def _start_pipeline(self, start_index, device):
        """Batches from ``start_index`` on, transformed on the host or staged for the device."""
        if device and self.feed is None:
            from caffeine.cuda_layers.data_gpu import DeviceFeed
            self.feed = DeviceFeed(self.prefetch_count)
        self.device_batches = bool(device)
        process = self._stage_for_device if device else self.process_batch
        self.pipeline = PrefetchPipeline(self.read_batch, process, prefetch=self.prefetch_count,
                                         seed=self.seed, start_index=start_index, name=self.name,
                                         hold=device)
        self.pipeline.start()

    # ---- subclass API --------------------------------------------------------------
    def data_setup(self, top):
        raise NotImplementedError

    def read_batch(self, index):
        raise NotImplementedError

    def load_batch(self, raw):
        """(uint8/float N×C×H×W array or list of C×H×W items, float32 labels) of ``raw``."""
        raise NotImplementedError

    def process_batch(self, raw, rng):
        items, labels = self.load_batch(raw)
        data = self.transformer.transform(items, rng)
        return [data, labels] if self.output_labels else [data]

    def stage_batch(self, raw, rng, ring):
        """GPU mode: the raw batch and its random choices in a pinned buffer of ``ring``
        (a PackedBatch); batches that are not uint8 are transformed here (list of arrays)."""
        from caffeine.cuda_layers.data_gpu import pack
        items, labels = self.load_batch(raw)
        batch, h_off, w_off, mirror = self.transformer.prepare(items, rng)
        if batch.dtype != np.uint8:
            self._note_host_transform(batch.dtype)
            data = self.transformer.apply(batch, h_off, w_off, mirror)
            return [data, labels] if self.output_labels else [data]
        n, c, h, w = batch.shape
        out_shape = (n,) + tuple(self.transformer.output_shape((c, h, w)))
        return pack(ring, batch, np.stack([h_off, w_off, mirror]),
                    labels if self.output_labels else None, out_shape)

    def launch_transform(self, pixels, choices, out):
        """GPU mode: the transform kernel over a staged batch (device arrays)."""
        from caffeine.cuda_layers.transform_gpu import device_transformer
        device_transformer(self.transformer).launch(pixels, choices, out)

    def _stage_for_device(self, raw, rng):
        return self.stage_batch(raw, rng, self.feed.ring)

    def _note_host_transform(self, dtype):
        if not getattr(self, "_noted_host_transform", False):
            self._noted_host_transform = True
            log.info("Layer %s: %s data is transformed on the host (the device transform "
                     "takes uint8 pixels)", self.name, np.dtype(dtype).name)

    def rewind(self, start_index):
        """Position the source so that read_batch(start_index) comes next (for seek)."""

    # ---- Layer ---------------------------------------------------------------------
    def reshape(self, bottom, top):
        for t, shape in zip(top, self.top_shapes):
            if t.shape != shape:
                t.reshape(shape)

    def forward_cpu(self, bottom, top):
        if self.device_batches:
            self.seek(self.batches_consumed, device=False)
        batch = self.pipeline.next()
        for t, arr in zip(top, batch):
            if t.shape != arr.shape:
                t.reshape(arr.shape)
            t.data[...] = arr
        self.top_shapes = [t.shape for t in top]

    def forward_gpu(self, bottom, top):
        if not self.device_batches:
            self.seek(self.batches_consumed, device=True)
        self.feed.forward(self.pipeline, top, self.launch_transform)
        self.top_shapes = [t.shape for t in top]

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
        """Batches served by forward (one taken early for the device copy does not count)."""
        if self.pipeline is None:
            return 0
        return self.pipeline.position - (self.feed.ahead if self.device_batches else 0)

    def seek(self, batch_index, device=None):
        """Restart the stream so the next forward() returns batch ``batch_index``."""
        if self.pipeline is not None:
            self._stop_pipeline()
            self._waited = [self._waited[0] + self.pipeline.wait_seconds,
                            self._waited[1] + self.pipeline.stalls]
        self.rewind(int(batch_index))
        self._start_pipeline(int(batch_index),
                             self.device_batches if device is None else device)

    def _stop_pipeline(self):
        self.pipeline.close()
        if self.device_batches:
            self.feed.reclaim(self.pipeline.leftovers())

    def close(self):
        if self.pipeline is not None:
            self._stop_pipeline()


def stack_labels(labels, dtype=np.float32):
    return np.asarray(labels, dtype=dtype)
