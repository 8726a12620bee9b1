"""Data-layer throughput: LMDB -> Datum -> decode -> transform -> batch, with prefetch.

    python bench/bench_data.py [--seconds 5] [--threads 2] [--lenet-iters 40] [--caffenet]

Cases (images/s the Data layer delivers when the consumer takes batches as fast as
it can, i.e. the ceiling prefetch gives the solver):
  * MNIST-sized raw Datums (1x28x28 uint8, batch 64, scale 1/256): the digits set;
  * 256x256 JPEG-encoded colour Datums (batch 64, crop 227, mirror, mean_value), the
    CaffeNet input pipeline.
Each is also timed without prefetch (read + decode + transform on the calling thread).
Then LeNet (models/lenet/train_val.prototxt, batch 64) trains forward+backward on
the digits LMDB through the real Data layer: its img/s, the data/LeNet ratio
(target >= 5x) and the fraction of the time the net waited for data (target ~0).
``--caffenet`` also times CaffeNet forward+backward at batch 8 for its img/s.
"""
import argparse
import os
import sys
import tempfile
import time

from blas_threads import set_blas_threads  # bench/ is sys.path[0]; this module does not load numpy

set_blas_threads(sys.argv[1:], override=False)

import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from caffeine import backend  # noqa: E402
from caffeine.data.db import open_writer, write_datums  # noqa: E402
from caffeine.proto import caffe_pb2  # noqa: E402
from caffeine.testing.layer_helpers import empty_tops, make_layer  # noqa: E402


def make_digits_db(folder, count):
    from caffeine.data.digits import generate
    images, labels = generate(count, seed=1)
    path = os.path.join(folder, "digits_lmdb")
    write_datums(path, images, labels)
    return path


def make_jpeg_db(folder, count, rng):
    import cv2
    path = os.path.join(folder, "jpeg_lmdb")
    base = [cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (0, 0), 3)
            for _ in range(8)]
    with open_writer(path) as db:
        for i in range(count):
            img = np.roll(base[i % 8], i, axis=1)
            ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            datum = caffe_pb2.Datum(data=jpg.tobytes(), encoded=True, label=i % 1000)
            db.put(b"%08d" % i, datum.SerializeToString())
    return path


def data_layer(source, batch, transform):
    layer = make_layer(f'name: "data" type: "Data" top: "data" top: "label" data_param {{ '
                       f'source: "{source}" batch_size: {batch} }} transform_param {{ {transform} }}',
                       caffe_pb2.TRAIN)
    tops = empty_tops(2, dtype=np.float32)
    layer.layer_setup([], tops)
    return layer, tops


def throughput(source, batch, transform, seconds):
    """(prefetched img/s, synchronous img/s, wait fraction while consuming flat out)."""
    layer, tops = data_layer(source, batch, transform)
    layer.forward([], tops)                       # warm-up
    t0, n = time.perf_counter(), 0
    wait0 = layer.wait_seconds
    while time.perf_counter() - t0 < seconds:
        layer.forward([], tops)
        n += batch
    elapsed = time.perf_counter() - t0
    prefetched = n / elapsed
    layer.close()
    # the same work on the calling thread, no pipeline
    rng = np.random.default_rng(0)
    t0, m, i = time.perf_counter(), 0, 0
    while time.perf_counter() - t0 < seconds / 2:
        layer.process_batch(layer.read_batch(i), rng)
        m += batch
        i += 1
    synchronous = m / (time.perf_counter() - t0)
    return prefetched, synchronous, (layer.wait_seconds - wait0) / elapsed


def train_rate(model, source, iters, batch_override=None):
    """img/s of forward+backward through the net (its Data layer included), and wait fraction."""
    from caffeine.net import Net
    with open(model) as f:
        text = f.read()
    text = text.replace('"data/lenet/train_lmdb"', f'"{source}"')
    if batch_override:
        import re
        text = re.sub(r"batch_size: \d+", f"batch_size: {batch_override}", text)
    tmp = os.path.join(os.path.dirname(source), os.path.basename(model))
    with open(tmp, "w") as f:
        f.write(text)
    net = Net(tmp, caffe_pb2.TRAIN)
    data = next(layer for layer in net.layers if layer.type == "Data")
    batch = net.blobs["data"].shape[0]
    net.forward_backward()
    wait0, t0 = data.wait_seconds, time.perf_counter()
    for _ in range(iters):
        net.forward_backward()
    elapsed = time.perf_counter() - t0
    wait = data.wait_seconds - wait0
    data.close()
    return iters * batch / elapsed, wait / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (set before numpy)")
    parser.add_argument("--lenet-iters", type=int, default=40)
    parser.add_argument("--caffenet", action="store_true", help="also time CaffeNet fwd+bwd")
    args = parser.parse_args()
    backend.set_random_seed(1)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        digits = make_digits_db(tmp, 6400)
        jpeg = make_jpeg_db(tmp, 512, rng)
        print(f"cpus: {os.cpu_count()}, data threads: {os.environ.get('CAFFEINE_DATA_THREADS', 'default')}")
        mn = throughput(digits, 64, "scale: 0.00390625", args.seconds)
        print(f"MNIST raw 1x28x28, batch 64:            {mn[0]:9.0f} img/s prefetched, "
              f"{mn[1]:9.0f} img/s synchronous")
        jp = throughput(jpeg, 64, "crop_size: 227 mirror: true mean_value: 104 mean_value: 117 "
                        "mean_value: 123", args.seconds)
        print(f"JPEG 256x256 -> 227 crop+mirror, b64:   {jp[0]:9.0f} img/s prefetched, "
              f"{jp[1]:9.0f} img/s synchronous")
        model = os.path.join(ROOT, "models", "lenet", "train_val.prototxt")
        lenet, wait = train_rate(model, digits, args.lenet_iters)
        print(f"LeNet train (fwd+bwd, b64) on digits:   {lenet:9.0f} img/s, "
              f"waited for data {100 * wait:.2f}% of the time")
        print(f"data / LeNet training rate:             {mn[0] / lenet:9.1f}x  (target >= 5x)")
        if args.caffenet:
            cmodel = os.path.join(ROOT, "models", "bvlc_reference_caffenet", "train_val.prototxt")
            cn, cwait = train_rate_caffenet(cmodel, jpeg)
            print(f"CaffeNet train (fwd+bwd, b8):           {cn:9.1f} img/s, waited {100 * cwait:.2f}%")
            print(f"JPEG data / CaffeNet training rate:     {jp[0] / cn:9.1f}x")


def train_rate_caffenet(model, source):
    with open(model) as f:
        text = f.read()
    import re
    text = re.sub(r'source: "[^"]*train[^"]*"', f'source: "{source}"', text)
    text = re.sub(r'mean_file: "[^"]*"', "mean_value: 104 mean_value: 117 mean_value: 123", text)
    path = os.path.join(os.path.dirname(source), "caffenet_tv.prototxt")
    with open(path, "w") as f:
        f.write(text)
    return train_rate(path, source, 2, batch_override=8)


if __name__ == "__main__":
    main()
