"""ArgMax on the GPU (argmax.cu), the semantics of caffeine.layers.argmax (Caffe's
ArgMaxLayer): top_k indices, or values with out_max_val, along argmax_param.axis; without an
axis, per sample over all its values, indices in top[:, 0] and values in top[:, 1] when
out_max_val.  Order: larger value first, among equal values the larger index first (Caffe's
std::partial_sort with std::greater on (value, index)); NaN last, as the CPU layer's sort.
One thread per (outer, inner) position; every top element is written by the kernel.
"""
from caffeine.cuda_layers.launch import data_ro, i32, run
from caffeine.layers.softmax import split_axis


def forward_gpu(layer, bottom, top):
    b = bottom[0]
    if layer.has_axis:
        outer, dim, inner = split_axis(b, layer.axis)
        slots = 1
        index_slot, value_slot = (-1, 0) if layer.out_max_val else (0, -1)
    else:
        outer, dim, inner = b.shape[0], b.count(1), 1
        slots = 2 if layer.out_max_val else 1
        index_slot, value_slot = 0, (1 if layer.out_max_val else -1)
    run("argmax", "argmax_topk", outer * inner, data_ro(b), i32(dim), i32(inner), i32(layer.top_k),
        i32(index_slot), i32(value_slot), i32(slots), top[0].gpu_data, dtype=layer.dtype)


def backward_gpu(layer, top, propagate_down, bottom):
    # No gradient (Caffe: NOT_IMPLEMENTED); the CPU layer's check touches no data.
    layer.backward_cpu(top, propagate_down, bottom)
