"""Compute the mean image of a DB of Datums (Caffe's compute_image_mean).

`caffeine compute_image_mean [--backend lmdb] DB [OUT.binaryproto]`

Encoded Datums are decoded (native channels).  Writes a BlobProto of shape
1×C×H×W (legacy dims, as Caffe) and prints the mean of every channel.
"""
import logging

import numpy as np

from caffeine.errors import DataError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    parser.add_argument("--backend", default=None, help="lmdb or leveldb (default: detected)")
    parser.add_argument("db", help="input DB of Datums")
    parser.add_argument("output", nargs="?", default=None, help="output .binaryproto")


def image_mean(path, backend=None, chunk=1024):
    """(C×H×W float64 mean, count) of every Datum in a DB."""
    from caffeine.data.db import open_db
    from caffeine.data.progress import progress
    from caffeine.data.transformer import decode_datum
    from caffeine.layers.data import parse_datum
    total, count, shape, pending = None, 0, None, []

    def flush():
        nonlocal total
        if pending:
            s = np.stack(pending).sum(axis=0, dtype=np.float64)
            total = s if total is None else total + s
            pending.clear()

    with open_db(path, backend) as db, progress(total=len(db), desc="mean", unit="img") as bar:
        for key, value in db.items():
            arr = decode_datum(parse_datum(value, path))
            if shape is None:
                shape = arr.shape
            elif arr.shape != shape:
                raise DataError(f"Datum '{key.decode(errors='replace')}' in '{path}' is "
                                f"{_chw(arr.shape)}, the first one {_chw(shape)}; the mean needs "
                                "one size", file=path, expected=_chw(shape), found=_chw(arr.shape))
            pending.append(arr)
            count += 1
            if len(pending) == chunk:
                flush()
                bar.update(chunk)
            if count % 10000 == 0:
                log.info("Processed %d files.", count)
        flush()
    if count == 0:
        raise DataError(f"DB '{path}' is empty", file=path)
    log.info("Processed %d files.", count)
    return total / count, count


def _chw(shape):
    return "x".join(str(s) for s in shape)


def run(args):
    from caffeine.data.transformer import write_mean_file
    mean, count = image_mean(args.db, args.backend)
    if args.output:
        log.info("Write to %s", args.output)
        write_mean_file(args.output, mean)
    log.info("Number of channels: %d", mean.shape[0])
    for c in range(mean.shape[0]):
        value = float(mean[c].mean())
        log.info("mean_value channel [%d]: %g", c, value)
        print(f"mean_value channel [{c}]: {value:.6g}")
    return 0
