"""MVN on the GPU (mvn.cu): per-row statistics reduced in two deterministic steps (mvn_reduce
over chunks of REDUCE_CHUNK columns, then a (rows, chunks) sum on the device); mean and
standard deviation two-pass, as caffeine.layers.mvn.  sigma and std + eps stay on the layer
(device scratch) for backward."""
from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, scalar, work

REDUCE_CHUNK = 256
SUM, SQDEV, DOT = 0, 1, 2


def _row_sums(layer, mode, a, b=None, center=None):
    rows, dim = layer.rows, layer.dim
    chunks = max(1, -(-dim // REDUCE_CHUNK))
    partial = work(layer, f"partial{mode}", (rows, chunks), layer.dtype)
    run("mvn", "mvn_reduce", rows * chunks, a, b if b is not None else a, center if center is not None else a,
        i32(mode), i32(dim), i32(REDUCE_CHUNK), partial, dtype=layer.dtype)
    return partial.sum(axis=1)


def forward_gpu(layer, bottom, top):
    rows, dim, dt = layer.rows, layer.dim, layer.dtype
    if rows * dim == 0:
        return
    p = layer.layer_param.mvn_param
    x = data_ro(bottom[0])
    mean = work(layer, "mean", (rows,), dt)
    mean[...] = _row_sums(layer, SUM, x) / dim
    denom = mean  # not read unless normalize_variance
    if p.normalize_variance:
        sigma = work(layer, "sigma", (rows,), dt)
        denom = work(layer, "denom", (rows,), dt)
        sqdev = _row_sums(layer, SQDEV, x, center=mean)
        run("mvn", "mvn_std", rows, sqdev, i32(dim), scalar(p.eps, dt), sigma, denom, dtype=dt)
    run("mvn", "mvn_normalize", x.size, x, mean, denom, i32(1 if p.normalize_variance else 0), i32(dim),
        top[0].gpu_data, dtype=dt)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    rows, dim, dt = layer.rows, layer.dim, layer.dtype
    if rows * dim == 0:
        return
    p = layer.layer_param.mvn_param
    dy = diff_ro(top[0])
    # row statistics first: in place, the bottom diff is the top diff
    mean_dy = work(layer, "mean_dy", (rows,), dt)
    mean_dy[...] = _row_sums(layer, SUM, dy) / dim
    y = data_ro(top[0])
    coef = denom = mean_dy  # not read unless normalize_variance
    if p.normalize_variance:
        buffers = getattr(layer, "_gpu_work", {})
        if buffers.get("denom") is None or buffers["denom"].shape != (rows,):
            raise layer.error("backward called before a matching forward")
        denom = buffers["denom"]
        coef = work(layer, "coef", (rows,), dt)
        run("mvn", "mvn_backward_coef", rows, _row_sums(layer, DOT, dy, y), buffers["sigma"], denom, i32(dim), coef,
            dtype=dt)
    run("mvn", "mvn_backward", dy.size, dy, y, mean_dy, coef, denom, i32(1 if p.normalize_variance else 0), i32(dim),
        bottom[0].gpu_diff, dtype=dt)
