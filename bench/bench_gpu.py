"""GPU training throughput: caffeine's CUDA path vs PyTorch eager (cuDNN) on the same GPU.

    python bench/bench_gpu.py [--iters 50] [--models lenet,cifar10_quick,caffenet] [--tf32]

For each net (LeNet b64, CIFAR10-quick b100, CaffeNet b256) it trains from random data
already on the device (the Data layers of models/<net>/train_val.prototxt become Input
layers, so data loading is not measured) and prints images/second for caffeine (solver
step: forward, backward, update, loss readback, divergence guard as in training) and for
the same architecture in PyTorch eager (SGD with momentum, loss.item() every step), and
the ratio caffeine / torch.  Both run in float32; ``--tf32`` lets both use TF32 (cuDNN
does by default for convolutions; CuPy's cuBLAS then too).  Without a CUDA GPU (or CuPy /
a CUDA build of torch) it says so and exits with status 1.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NETS = {  # name: (prototxt, batch, input shape)
    "lenet": ("models/lenet/train_val.prototxt", 64, (1, 28, 28)),
    "cifar10_quick": ("models/cifar10_quick/train_val.prototxt", 100, (3, 32, 32)),
    "caffenet": ("models/bvlc_reference_caffenet/train_val.prototxt", 256, (3, 227, 227)),
}


def fail(message):
    print(f"bench_gpu: {message}")
    sys.exit(1)


# ---- caffeine --------------------------------------------------------------------------------
def caffeine_solver(name):
    from google.protobuf import text_format

    from caffeine.proto import caffe_pb2
    from caffeine.solvers import get_solver
    path, batch, shape = NETS[name]
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        net = text_format.Parse(f.read(), caffe_pb2.NetParameter())
    kept = [lp for lp in net.layer if lp.type != "Data"]
    del net.layer[:]
    data = net.layer.add()
    text_format.Parse(f'name: "data" type: "Input" top: "data" top: "label" '
                      f'input_param {{ shape {{ dim: {batch} {" ".join(f"dim: {d}" for d in shape)} }} '
                      f'shape {{ dim: {batch} }} }}', data)
    for lp in kept:
        net.layer.add().CopyFrom(lp)
    sp = caffe_pb2.SolverParameter()
    text_format.Parse('base_lr: 0.001 momentum: 0.9 weight_decay: 0.0005 lr_policy: "fixed" display: 0 '
                      'max_iter: 1000000 random_seed: 1 snapshot_after_train: false', sp)
    sp.net_param.CopyFrom(net)
    return get_solver(sp), batch


def bench_caffeine(name, iters, warmup):
    import numpy as np

    from caffeine import backend
    cp = backend.cupy_or_raise()
    solver, batch = caffeine_solver(name)
    net = solver.net
    rng = np.random.default_rng(0)
    net.blobs["data"].gpu_data[...] = cp.asarray(rng.standard_normal(net.blobs["data"].shape, dtype=np.float32))
    # labels in [0, 10): valid for every net here
    net.blobs["label"].gpu_data[...] = cp.asarray(rng.integers(0, 10, size=batch).astype(np.float32))
    solver.step(warmup)
    cp.cuda.Device().synchronize()
    start = time.perf_counter()
    solver.step(iters)
    cp.cuda.Device().synchronize()
    return batch * iters / (time.perf_counter() - start)


# ---- torch eager -------------------------------------------------------------------------------
def torch_model(name, torch):
    nn = torch.nn
    if name == "lenet":
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2, ceil_mode=True), nn.Conv2d(20, 50, 5),
                             nn.MaxPool2d(2, 2, ceil_mode=True), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                             nn.Linear(500, 10))
    if name == "cifar10_quick":
        return nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
                             nn.Conv2d(32, 32, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                             nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                             nn.Flatten(), nn.Linear(64 * 4 * 4, 64), nn.Linear(64, 10))
    if name == "caffenet":
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.LocalResponseNorm(5, 1e-4, 0.75), nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(),
            nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5, 1e-4, 0.75),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Flatten(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096),
            nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 1000))
    raise KeyError(name)


def bench_torch(name, iters, warmup, torch):
    _, batch, shape = NETS[name]
    dev = torch.device("cuda")
    model = torch_model(name, torch).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)
    x = torch.randn((batch,) + shape, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # caffeine reads its loss every iteration too

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", default="lenet,cifar10_quick,caffenet")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 in both (default: plain float32)")
    args = parser.parse_args(argv)
    from caffeine import backend
    try:
        backend.cupy_or_raise()
    except backend.GPUUnavailableError as exc:
        fail(f"no CUDA GPU for caffeine: {exc}")
    try:
        import torch
    except ImportError as exc:
        fail(f"PyTorch is not installed ({exc})")
    if not torch.cuda.is_available():
        fail(f"this PyTorch ({torch.__version__}) has no CUDA device")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    if args.tf32:
        os.environ["CUPY_TF32"] = "1"
    backend.set_mode_gpu()
    cp = backend.cupy_or_raise()
    props = cp.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode() if isinstance(props['name'], bytes) else props['name']}, "
          f"cupy {cp.__version__}, torch {torch.__version__}, {'TF32' if args.tf32 else 'float32'}")
    print(f"{'net':<16}{'batch':>6}{'caffeine img/s':>16}{'torch img/s':>14}{'ratio':>8}")
    for name in args.models.split(","):
        batch = NETS[name][1]
        ours = bench_caffeine(name, args.iters, args.warmup)
        theirs = bench_torch(name, args.iters, args.warmup, torch)
        print(f"{name:<16}{batch:>6}{ours:>16.0f}{theirs:>14.0f}{ours / theirs:>7.2f}x", flush=True)


if __name__ == "__main__":
    main()
