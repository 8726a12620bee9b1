"""Training throughput of caffeine vs PyTorch CPU, measured in the same run.

    python bench/bench_train.py [--iters 30] [--threads 2]

For LeNet (batch 64) and CIFAR10-quick (batch 100): one training step = forward +
backward + SGD-momentum update on random data of the net's input shape. Both
frameworks use the same number of BLAS/intra-op threads.  Prints img/s and the
ratio caffeine / PyTorch (> 1 means caffeine is faster), plus the ratio against
BVLC Caffe's reference speeds on this machine class (../shared/README.md).
"""
import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

CAFFE_REFERENCE_IMG_S = {"lenet": 2600.0, "cifar10_quick": 550.0}
NETS = {"lenet": ("models/lenet/train_val.prototxt", 64, (1, 28, 28)),
        "cifar10_quick": ("models/cifar10_quick/train_val.prototxt", 100, (3, 32, 32))}


def caffeine_solver(name):
    import numpy as np

    from caffeine import backend
    from caffeine.proto import caffe_pb2, io as proto_io
    from caffeine.solvers import get_solver
    path, batch, shape = NETS[name]
    net = proto_io.read_net_param(os.path.join(REPO, path))
    layers = [l for l in net.layer if l.type not in ("Data", "Accuracy")]
    del net.layer[:]
    data = net.layer.add(name="data", type="Input")
    data.top.extend(["data", "label"])
    data.input_param.shape.add().dim.extend((batch,) + shape)
    data.input_param.shape.add().dim.extend([batch])
    for l in layers:
        net.layer.add().CopyFrom(l)
    solver = caffe_pb2.SolverParameter(base_lr=0.001, momentum=0.9, weight_decay=0.0005, lr_policy="fixed",
                                       max_iter=10 ** 6, display=0, random_seed=1)
    solver.net_param.CopyFrom(net)
    backend.set_random_seed(1)
    s = get_solver(solver)
    rng = np.random.default_rng(0)
    s.net.blobs["data"].data[...] = rng.standard_normal(s.net.blobs["data"].shape)
    s.net.blobs["label"].data[...] = rng.integers(0, 10, batch)
    return s, batch


def time_caffeine(name, iters):
    solver, batch = caffeine_solver(name)
    solver.step(3)  # warm-up
    t = time.perf_counter()
    solver.step(iters)
    return batch * iters / (time.perf_counter() - t)


def torch_model(name):
    import torch.nn as nn
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2, ceil_mode=True), nn.Conv2d(20, 50, 5),
                             nn.MaxPool2d(2, 2, ceil_mode=True), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                             nn.Linear(500, 10))
    return nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
                         nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                         nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.Linear(64, 10))


def time_torch(name, iters):
    import torch
    _, batch, shape = NETS[name]
    torch.manual_seed(0)
    model = torch_model(name)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)
    x = torch.randn((batch,) + shape)
    y = torch.randint(0, 10, (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return batch * iters / (time.perf_counter() - t)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--nets", default="lenet,cifar10_quick")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    blas = ", ".join(f"{i['internal_api']} {i.get('architecture', '')} x{i['num_threads']}" for i in threadpool_info())
    print(f"threads={args.threads}  numpy BLAS: {blas}  torch {torch.__version__}")
    print(f"{'net':15s} {'caffeine img/s':>15s} {'torch img/s':>12s} {'vs torch':>9s} {'vs Caffe':>9s}")
    for name in args.nets.split(","):
        ours = max(time_caffeine(name, args.iters) for _ in range(2))
        theirs = max(time_torch(name, args.iters) for _ in range(2))
        print(f"{name:15s} {ours:15.0f} {theirs:12.0f} {ours / theirs:8.2f}x "
              f"{ours / CAFFE_REFERENCE_IMG_S[name]:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
