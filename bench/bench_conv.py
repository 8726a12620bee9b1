"""Forward + backward time of caffeine's Convolution against PyTorch on the CPU.

    python bench/bench_conv.py [--repeat 10] [--threads 2]

Cases are the convolutions of LeNet and CIFAR10-quick at their training batch sizes
(float32).  A first layer does not backpropagate into its data, so conv1 cases time
weight/bias gradients only, in both libraries.  torch is limited to ``--threads``
threads.  Prints the best of ``--repeat`` runs in ms and the ratio caffeine/torch
(below 1 means caffeine is faster).  numpy's BLAS gets the same thread count
(OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set before numpy loads): on a machine
shared with other jobs, 2 BLAS threads can be many times slower than 1, so compare
like with like.
"""
import argparse
import os
import sys
import time

from blas_threads import set_blas_threads  # bench/ is sys.path[0]; this module does not load numpy

set_blas_threads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer  # noqa: E402

# name, input shape (N, C, H, W), num_output, kernel, pad, backprop into the input
CASES = [
    ("LeNet conv1", (64, 1, 28, 28), 20, 5, 0, False),
    ("LeNet conv2", (64, 20, 12, 12), 50, 5, 0, True),
    ("CIFAR10-quick conv1", (100, 3, 32, 32), 32, 5, 2, False),
    ("CIFAR10-quick conv2", (100, 32, 16, 16), 32, 5, 2, True),
    ("CIFAR10-quick conv3", (100, 32, 8, 8), 64, 5, 2, True),
]


CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def best_ms(fn, repeat):
    fn()
    fn()  # warm up: buffers, BLAS threads
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return 1e3 * min(times)


def caffeine_case(x, num_output, kernel, pad, input_grad, repeat):
    layer = make_layer(f'type: "Convolution" convolution_param {{ num_output: {num_output} '
                       f'kernel_size: {kernel} pad: {pad} weight_filler {{ type: "xavier" }} }}')
    bottom, top = [blob_from(x, dtype=np.float32)], empty_tops(1, dtype=np.float32)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = np.random.default_rng(1).standard_normal(top[0].shape)

    def fwd():
        layer.forward(bottom, top)

    def fwd_bwd():
        layer.forward(bottom, top)
        layer.backward(top, [input_grad], bottom)
    return best_ms(fwd, repeat), best_ms(fwd_bwd, repeat)


def torch_case(x, num_output, kernel, pad, input_grad, repeat):
    import torch
    import torch.nn.functional as F
    xt = torch.from_numpy(x).requires_grad_(input_grad)
    w = (torch.randn(num_output, x.shape[1], kernel, kernel) * 0.1).requires_grad_()
    b = torch.zeros(num_output, requires_grad=True)
    with torch.no_grad():
        dy = torch.randn_like(F.conv2d(xt, w, b, padding=pad))

    def fwd():
        with torch.no_grad():
            F.conv2d(xt, w, b, padding=pad)

    def fwd_bwd():
        F.conv2d(xt, w, b, padding=pad).backward(dy)
    return best_ms(fwd, repeat), best_ms(fwd_bwd, repeat)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall",
                        help="cpu: process CPU time, steadier on a busy machine (with --threads 1)")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCK[args.clock]
    import torch
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, {args.clock} clock, best of {args.repeat}")
    print(f"{'case':<22}{'caffeine fwd':>13}{'torch fwd':>11}{'ratio':>7}"
          f"{'caffeine f+b':>14}{'torch f+b':>11}{'ratio':>7}")
    for name, shape, num_output, kernel, pad, input_grad in CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        cf, cfb = caffeine_case(x, num_output, kernel, pad, input_grad, args.repeat)
        tf, tfb = torch_case(x, num_output, kernel, pad, input_grad, args.repeat)
        print(f"{name:<22}{cf:>10.2f} ms{tf:>8.2f} ms{cf / tf:>7.2f}{cfb:>11.2f} ms{tfb:>8.2f} ms{cfb / tfb:>7.2f}")


if __name__ == "__main__":
    main()
