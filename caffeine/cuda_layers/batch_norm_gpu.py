"""BatchNorm on the GPU (batch_norm.cu).

Per-channel sums are reduced deterministically in two steps: bn_reduce sums chunks of
REDUCE_CHUNK positions per channel, then a (channels, chunks) sum finishes on the device.
Statistics as caffeine.layers.batch_norm: two-pass variance, running sums updated with
moving_average_fraction and the m/(m-1) correction; use_global_stats reads the stored sums
(scale 1/blobs[2], 0 when blobs[2] is 0) without a readback.
"""
from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, scalar, work

REDUCE_CHUNK = 256
SUM, SQDEV, DOT = 0, 1, 2


def _channel_sums(layer, mode, a, b=None, center=None):
    num, channels, spatial = layer.num, layer.channels, layer.spatial
    chunks = max(1, -(-(num * spatial) // REDUCE_CHUNK))
    partial = work(layer, f"partial{mode}", (channels, chunks), layer.dtype)
    run("batch_norm", "bn_reduce", channels * chunks, a, b if b is not None else a,
        center if center is not None else a, i32(mode), i32(num), i32(channels), i32(spatial),
        i32(REDUCE_CHUNK), partial, dtype=layer.dtype)
    return partial.sum(axis=1)


def forward_gpu(layer, bottom, top):
    dt = layer.dtype
    x, y = data_ro(bottom[0]), top[0].gpu_data
    channels = layer.channels
    mean = work(layer, "mean", (channels,), dt)
    stdev = work(layer, "std", (channels,), dt)
    if layer.use_global_stats:
        run("batch_norm", "bn_global_stats", channels, data_ro(layer.blobs[0]), data_ro(layer.blobs[1]),
            data_ro(layer.blobs[2]), scalar(layer.eps, dt), mean, stdev, dtype=dt)
    else:
        m = layer.num * layer.spatial
        mean[...] = _channel_sums(layer, SUM, x) / m
        var = _channel_sums(layer, SQDEV, x, center=mean) / m
        var = var.astype(dt, copy=False)
        f = layer.moving_average_fraction
        correction = m / (m - 1) if m > 1 else 1.0
        norm = layer.blobs[2].gpu_data
        norm[...] = norm * f + 1
        run("batch_norm", "bn_update_stats", channels, mean, var, scalar(f, dt), scalar(correction, dt),
            scalar(layer.eps, dt), layer.blobs[0].gpu_data, layer.blobs[1].gpu_data, stdev, dtype=dt)
    # kept for backward: a layer above (Scale, in place) may rewrite the top, as on the CPU
    x_norm = work(layer, "x_norm", x.shape, dt)
    run("batch_norm", "bn_normalize", x.size, x, mean, stdev, i32(channels), i32(layer.spatial), x_norm,
        dtype=dt)
    y[...] = x_norm


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    dt = layer.dtype
    dy, dx = diff_ro(top[0]), bottom[0].gpu_diff
    y = layer._gpu_work["x_norm"]
    stdev = layer._gpu_work["std"]
    if layer.use_global_stats:
        run("batch_norm", "bn_backward", dy.size, dy, y, stdev, stdev, stdev, i32(layer.channels),
            i32(layer.spatial), i32(1), dx, dtype=dt)
        return
    m = layer.num * layer.spatial
    mean_dy = (_channel_sums(layer, SUM, dy) / m).astype(dt, copy=False)
    mean_dy_y = (_channel_sums(layer, DOT, dy, y) / m).astype(dt, copy=False)
    run("batch_norm", "bn_backward", dy.size, dy, y, mean_dy, mean_dy_y, stdev, i32(layer.channels),
        i32(layer.spatial), i32(0), dx, dtype=dt)
