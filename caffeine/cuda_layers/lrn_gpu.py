"""LRN on the GPU (lrn.cu), both regions, with the layer's parsed shift/coef (see
caffeine.layers.lrn: ACROSS_CHANNELS k, alpha/size; WITHIN_CHANNEL 1, alpha/size^2)."""
from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, scalar, work


def forward_gpu(layer, bottom, top):
    x, y = data_ro(bottom[0]), top[0].gpu_data
    _, c, h, w = x.shape
    dt = layer.dtype
    scale = work(layer, "scale", x.shape, dt)
    if layer.across:
        run("lrn", "lrn_across_scale", x.size, x, i32(c), i32(h * w), i32(layer.size),
            scalar(layer.shift, dt), scalar(layer.coef, dt), scale, dtype=dt)
    else:
        run("lrn", "lrn_within_scale", x.size, x, i32(h), i32(w), i32(layer.size),
            scalar(layer.shift, dt), scalar(layer.coef, dt), scale, dtype=dt)
    run("lrn", "lrn_output", x.size, x, scale, scalar(-layer.beta, dt), y, dtype=dt)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    x, y = data_ro(bottom[0]), data_ro(top[0])
    dy, dx = diff_ro(top[0]), bottom[0].gpu_diff
    _, c, h, w = x.shape
    dt = layer.dtype
    scale = layer._gpu_work["scale"]
    cache_ratio = scalar(2.0 * layer.coef * layer.beta, dt)
    if layer.across:
        run("lrn", "lrn_across_diff", x.size, x, y, scale, dy, i32(c), i32(h * w), i32(layer.size),
            scalar(-layer.beta, dt), cache_ratio, dx, dtype=dt)
    else:
        run("lrn", "lrn_within_diff", x.size, x, y, scale, dy, i32(h), i32(w), i32(layer.size),
            scalar(-layer.beta, dt), cache_ratio, dx, dtype=dt)
