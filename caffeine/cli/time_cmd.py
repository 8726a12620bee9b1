"""Benchmark a model's per-layer execution time (Caffe's `caffe time`)."""
import logging
import time

from caffeine import backend
from caffeine.cli.common import add_model_flags, positive, select_mode, stages

log = logging.getLogger("caffeine")


def add_arguments(parser):
    add_model_flags(parser, iterations=50)
    parser.add_argument("--phase", default="TRAIN", choices=["TRAIN", "TEST"],
                        help="network phase to time (Caffe times TRAIN)")


def _sync():
    if backend.is_gpu():
        backend.cupy_or_raise().cuda.Device().synchronize()


def run(args):
    from caffeine.net import Net
    positive("--iterations", args.iterations)
    select_mode(args.gpu)
    net = Net(args.model, phase=0 if args.phase == "TRAIN" else 1, level=args.level, stages=stages(args))
    if args.weights:
        net.copy_from(args.weights)
    log.info("Performing Forward")
    initial_loss = net.forward_loss()
    log.info("Initial loss: %g", initial_loss)
    log.info("Performing Backward")
    net.backward_net()
    n = len(net.layers)
    fwd, bwd = [0.0] * n, [0.0] * n
    log.info("*** Benchmark begins ***")
    log.info("Testing for %d iterations.", args.iterations)
    total_start = time.perf_counter()
    fwd_total = bwd_total = 0.0
    for it in range(args.iterations):
        t_iter = time.perf_counter()
        for i, layer in enumerate(net.layers):
            t0 = time.perf_counter()
            layer.forward(net.bottom_vecs[i], net.top_vecs[i])
            _sync()
            fwd[i] += time.perf_counter() - t0
        t_mid = time.perf_counter()
        fwd_total += t_mid - t_iter
        for i in reversed(range(n)):
            if net.layer_need_backward[i]:
                t0 = time.perf_counter()
                net.layers[i].backward(net.top_vecs[i], net.bottom_need_backward[i], net.bottom_vecs[i])
                _sync()
                bwd[i] += time.perf_counter() - t0
        bwd_total += time.perf_counter() - t_mid
        log.info("Iteration: %d forward-backward time: %.3f ms.", it + 1, (time.perf_counter() - t_iter) * 1e3)
    log.info("Average time per layer: ")
    iters = args.iterations
    for i, name in enumerate(net.layer_names):
        log.info("%10s\tforward: %.5g ms.", name, fwd[i] * 1e3 / iters)
        log.info("%10s\tbackward: %.5g ms.", name, bwd[i] * 1e3 / iters)
    log.info("Average Forward pass: %.5g ms.", fwd_total * 1e3 / iters)
    log.info("Average Backward pass: %.5g ms.", bwd_total * 1e3 / iters)
    log.info("Average Forward-Backward: %.5g ms.", (time.perf_counter() - total_start) * 1e3 / iters)
    log.info("Total Time: %.5g ms.", (time.perf_counter() - total_start) * 1e3)
    log.info("*** Benchmark ends ***")
    return 0
