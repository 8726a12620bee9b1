"""Per-layer forward+backward time at CaffeNet-like shapes: caffeine vs PyTorch CPU.

    python bench/bench_layers.py [--batch 16] [--threads 2] [--repeat 3]

Each case builds one caffeine layer from prototxt text and the equivalent torch op,
runs forward + backward on the same random input, and prints milliseconds and the
ratio torch_ms / caffeine_ms (> 1 means caffeine is faster).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cases(batch):
    import torch.nn.functional as F
    return [
        ("conv1 11x11/4 (CaffeNet)", (batch, 3, 227, 227),
         'type: "Convolution" convolution_param { num_output: 96 kernel_size: 11 stride: 4 '
         'weight_filler { type: "gaussian" std: 0.01 } }',
         lambda x, w: F.conv2d(x, w[0], w[1], stride=4), [(96, 3, 11, 11), (96,)]),
        ("conv2 5x5 group 2", (batch, 96, 27, 27),
         'type: "Convolution" convolution_param { num_output: 256 kernel_size: 5 pad: 2 group: 2 '
         'weight_filler { type: "gaussian" std: 0.01 } }',
         lambda x, w: F.conv2d(x, w[0], w[1], padding=2, groups=2), [(256, 48, 5, 5), (256,)]),
        ("pool1 MAX 3x3/2", (batch, 96, 55, 55),
         'type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
         lambda x, w: F.max_pool2d(x, 3, 2, ceil_mode=True), []),
        ("norm1 LRN across 5", (batch, 96, 27, 27),
         'type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }',
         lambda x, w: F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=1.0), []),
        ("BatchNorm (train stats)", (batch, 256, 27, 27),
         'type: "BatchNorm" batch_norm_param { use_global_stats: false }',
         lambda x, w: F.batch_norm(x, None, None, training=True, eps=1e-5), []),
        ("fc6 InnerProduct 9216->4096", (batch, 256, 6, 6),
         'type: "InnerProduct" inner_product_param { num_output: 4096 weight_filler { type: "gaussian" std: 0.005 } }',
         lambda x, w: F.linear(x.flatten(1), w[0], w[1]), [(4096, 9216), (4096,)]),
    ]


def time_caffeine(text, shape, repeat):
    from caffeine.blob import Blob
    from caffeine.proto import caffe_pb2
    from caffeine.testing.layer_helpers import make_layer
    layer = make_layer(text, phase=caffe_pb2.TRAIN)
    bottom = [Blob(shape)]
    bottom[0].data[...] = np.random.default_rng(0).standard_normal(shape)
    top = [Blob()]
    layer.layer_setup(bottom, top)
    top[0].diff[...] = np.random.default_rng(1).standard_normal(top[0].shape)
    best = float("inf")
    for _ in range(repeat + 1):
        t = time.perf_counter()
        layer.forward(bottom, top)
        layer.backward(top, [True], bottom)
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def time_torch(fn, shape, wshapes, repeat):
    import torch
    x = torch.randn(shape, requires_grad=True)
    ws = [torch.randn(s, requires_grad=True) * 0.01 for s in wshapes]
    ws = [w.detach().requires_grad_() for w in ws]
    best = float("inf")
    for _ in range(repeat + 1):
        t = time.perf_counter()
        y = fn(x, ws)
        y.backward(torch.ones_like(y))
        best = min(best, time.perf_counter() - t)
        x.grad = None
    return best * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    print(f"batch {args.batch}, {args.threads} threads; ratio = torch / caffeine (> 1: caffeine faster)")
    print(f"{'layer':30s} {'caffeine ms':>12s} {'torch ms':>10s} {'ratio':>7s}")
    for name, shape, text, fn, wshapes in cases(args.batch):
        ours = time_caffeine(text, shape, args.repeat)
        theirs = time_torch(fn, shape, wshapes, args.repeat)
        print(f"{name:30s} {ours:12.1f} {theirs:10.1f} {theirs / ours:7.2f}", flush=True)


if __name__ == "__main__":
    main()
