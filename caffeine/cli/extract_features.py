"""Run a net forward and store blobs as Datums (Caffe's extract_features).

`caffeine extract_features WEIGHTS MODEL BLOB[,BLOB] DB[,DB] NUM_BATCHES [lmdb|leveldb]
[CPU|GPU] [DEVICE_ID]`

For every batch the net (TEST phase) runs forward once; each item of each named
blob becomes a Datum (channels/height/width of the blob, values in float_data)
stored under the key `%010d` (the item's running index) in the matching DB.
"""
import logging

import numpy as np

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    parser.add_argument("weights", help="trained .caffemodel")
    parser.add_argument("model", help="net .prototxt (its data layer feeds the images)")
    parser.add_argument("blobs", help="comma-separated blob names")
    parser.add_argument("dbs", help="comma-separated output DB names, one per blob")
    parser.add_argument("num_batches", type=int, help="number of forward passes")
    parser.add_argument("backend", nargs="?", default="lmdb", help="lmdb (default) or leveldb")
    parser.add_argument("device", nargs="?", default="CPU", help="CPU (default) or GPU")
    parser.add_argument("device_id", nargs="?", type=int, default=0, help="GPU id (default 0)")
    parser.add_argument("--gpu", default=None, help="GPU id (same as the GPU DEVICE_ID form)")


def run(args):
    from caffeine import backend
    from caffeine.data.db import backend_name, open_writer
    from caffeine.data.progress import progress
    from caffeine.net import Net
    from caffeine.proto import caffe_pb2

    blob_names = [b for b in args.blobs.split(",") if b]
    db_names = [d for d in args.dbs.split(",") if d]
    if len(blob_names) != len(db_names):
        raise UsageError("give one output DB per feature blob", field="dbs",
                         expected=len(blob_names), found=len(db_names))
    if args.num_batches <= 0:
        raise UsageError("NUM_BATCHES must be positive", field="num_batches", expected="> 0",
                         found=args.num_batches)
    db_backend = backend_name(args.backend)
    device = args.device.upper()
    if device not in ("CPU", "GPU"):
        raise UsageError("device must be CPU or GPU", field="device", expected="CPU or GPU",
                         found=args.device)
    if device == "GPU" or args.gpu not in (None, ""):
        backend.set_device(int(args.gpu) if args.gpu not in (None, "") else args.device_id)
        backend.set_mode_gpu()
        log.info("Using GPU")
    else:
        backend.set_mode_cpu()
        log.info("Using CPU")
    net = Net(args.model, caffe_pb2.TEST, weights=args.weights)
    for name in blob_names:
        if name not in net.blobs:
            raise UsageError(f"unknown feature blob name '{name}' in {args.model}", blob=name,
                             field="blobs", expected=", ".join(net.blobs), found=name)
    writers = [open_writer(d, db_backend, clear=True) for d in db_names]
    log.info("Extracting Features")
    counts = [0] * len(blob_names)
    datum = caffe_pb2.Datum()
    try:
        with progress(total=args.num_batches, desc="extract_features", unit="batch") as bar:
            for _ in range(args.num_batches):
                net.forward()
                for i, name in enumerate(blob_names):
                    blob = net.blobs[name]
                    data = np.asarray(blob.data, dtype=np.float32).reshape(blob.num, -1)
                    datum.channels, datum.height, datum.width = blob.channels, blob.height, blob.width
                    for row in data:
                        del datum.float_data[:]
                        datum.float_data.extend(row)
                        writers[i].put(b"%010d" % counts[i], datum.SerializeToString())
                        counts[i] += 1
                        if counts[i] % 1000 == 0:
                            log.info("Extracted features of %d query images for feature blob %s",
                                     counts[i], name)
                bar.update(1)
    finally:
        for w in writers:
            w.close()
    for name, n in zip(blob_names, counts):
        log.info("Extracted features of %d query images for feature blob %s", n, name)
    log.info("Successfully extracted the features!")
    print(f"Extracted {counts[0]} items per blob into {', '.join(db_names)}")
    return 0
