"""Forward + backward time of caffeine's Pooling and LRN layers against PyTorch on the CPU.

    python bench/bench_pool_lrn.py [--repeat 5] [--small]

Cases: MAX pool 3x3 stride 2 (CIFAR/CaffeNet) on 100x32x32x32, MAX 2x2 stride 2 (LeNet)
on 64x20x24x24, AVE 3x3 stride 2 (CIFAR10-quick pool2/3) on 100x32x16x16, LRN across 5 channels
on 32x96x55x55 (CaffeNet norm1), LRN within 3x3 on 100x32x16x16 (CIFAR10-full). float32,
torch limited to 2 threads (``--torch-threads``). Prints the best of ``--repeat`` runs in ms and caffeine/torch.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer  # noqa: E402


def best_ms(fn, repeat):
    fn()  # warm up (allocations, buffers)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def caffeine_case(text, x, repeat):
    layer = make_layer(text)
    bottom = [blob_from(x, dtype=np.float32)]
    top = empty_tops(1, dtype=np.float32)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0

    def fwd():
        layer.forward(bottom, top)

    def fwd_bwd():
        layer.forward(bottom, top)
        layer.backward(top, [True], bottom)
    return best_ms(fwd, repeat), best_ms(fwd_bwd, repeat)


def torch_case(fn, x, repeat):
    import torch
    xt = torch.from_numpy(x).requires_grad_(True)

    def fwd():
        with torch.no_grad():
            fn(xt)

    def fwd_bwd():
        xt.grad = None
        y = fn(xt)
        y.backward(torch.ones_like(y))
    return best_ms(fwd, repeat), best_ms(fwd_bwd, repeat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--small", action="store_true", help="quarter-size batches")
    ap.add_argument("--torch-threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.torch_threads)
    div = 4 if args.small else 1
    rng = np.random.default_rng(0)
    cases = [
        ("MAX 3x3/2 100x32x32x32", (100 // div, 32, 32, 32),
         'type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
         lambda t: F.max_pool2d(t, 3, 2, ceil_mode=True)),
        ("MAX 2x2/2 64x20x24x24", (64 // div, 20, 24, 24),
         'type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
         lambda t: F.max_pool2d(t, 2, 2, ceil_mode=True)),
        ("AVE 3x3/2 100x32x16x16", (100 // div, 32, 16, 16),
         'type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 }',
         lambda t: F.avg_pool2d(t, 3, 2, ceil_mode=True, count_include_pad=True)),
        ("LRN across 5 32x96x55x55", (32 // div, 96, 55, 55),
         'type: "LRN" lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }',
         lambda t: F.local_response_norm(t, 5, 1e-4, 0.75, 1.0)),
        ("LRN within 3 100x32x16x16", (100 // div, 32, 16, 16),
         'type: "LRN" lrn_param { local_size: 3 alpha: 5e-05 beta: 0.75 norm_region: WITHIN_CHANNEL }',
         None),
    ]
    print(f"{'case':28s} {'caffeine fwd':>13s} {'torch fwd':>10s} {'ratio':>6s}"
          f" {'caffeine f+b':>13s} {'torch f+b':>10s} {'ratio':>6s}")
    for name, shape, text, tfn in cases:
        x = rng.standard_normal(shape).astype(np.float32)
        cf, cfb = caffeine_case(text, x, args.repeat)
        if tfn is None:
            print(f"{name:28s} {cf:13.2f} {'-':>10s} {'-':>6s} {cfb:13.2f} {'-':>10s} {'-':>6s}")
            continue
        tf, tfb = torch_case(tfn, x, args.repeat)
        print(f"{name:28s} {cf:13.2f} {tf:10.2f} {cf / tf:6.2f} {cfb:13.2f} {tfb:10.2f} {cfb / tfb:6.2f}")


if __name__ == "__main__":
    main()
