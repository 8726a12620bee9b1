"""Accuracy on the GPU (accuracy.cu), Caffe 1.0's AccuracyLayer semantics as in
caffeine.layers.accuracy: top_k with Caffe's tie rule (a tie with the true class counts
against it), accuracy_param.axis, ignore_label, the mean over the non-ignored samples (0 when
none), and the optional per-class top[1] (0 for a class without labels).

Three launches, deterministic (no atomics): a state per sample, chunked counts per row (one
row per class when top[1] is asked for, plus a row for all classes), then one thread per row
for the quotient.  Both tops stay on the device.  One small flag is read back (with the loss at
the end of a Net forward, launch.check_later), as in SoftmaxWithLoss: whether any label is bad (outside [0, C) and not ignore_label), so a bad label
raises the CPU layer's DataError (Caffe's own GPU kernel reads out of bounds instead).  The
kernels alone make every output NaN for a bad label.
"""
import numpy as np

from caffeine.cuda_layers.launch import check_later, data_ro, i32, run, work
from caffeine.layers.labels import read_labels

ACC_CHUNK = 256  # samples per accuracy_count thread


def forward_gpu(layer, bottom, top):
    outer, channels, inner = layer.dims
    samples = outer * inner
    dt = layer.dtype
    label = data_ro(bottom[1])
    has_ignore, ignore = (1, layer.ignore_label) if layer.ignore_label is not None else (0, 0)
    state = work(layer, "state", (samples,), np.int32)
    run("accuracy", "accuracy_sample", samples, data_ro(bottom[0]), label, i32(channels), i32(inner),
        i32(layer.top_k), i32(has_ignore), i32(ignore), state, dtype=dt)
    # ACC_BAD anywhere: the CPU's DataError (read back once per Net forward, with the loss)
    check_later((state < 0).any(), lambda: read_labels(layer, bottom[1], channels, layer.ignore_label))
    classes = channels if len(top) > 1 else 0
    rows = classes + 1  # row `classes`: every sample, for top[0]
    chunks = max(1, -(-samples // ACC_CHUNK))
    partial = work(layer, "partial", (rows, chunks, 3), np.int32)
    run("accuracy", "accuracy_count", rows * chunks, state, label, i32(samples), i32(ACC_CHUNK), i32(classes),
        partial, dtype=dt)
    accuracy = top[0].gpu_data
    # not written when classes == 0; a separate buffer, as aliased kernel arguments would be
    # copied twice by the emulated device's guard zones
    per_class = top[1].gpu_data if classes else work(layer, "no_per_class", (1,), dt)
    run("accuracy", "accuracy_finish", rows, partial, i32(chunks), i32(classes), accuracy, per_class, dtype=dt)


def backward_gpu(layer, top, propagate_down, bottom):
    # Caffe: NOT_IMPLEMENTED when a gradient is asked for; the CPU layer's check touches no data.
    layer.backward_cpu(top, propagate_down, bottom)
