"""Build data sets as LMDBs: `caffeine data digits|mnist|cifar10 DIR [--from LOCAL]`.

digits   a built-in offline synthetic MNIST-like set (no download)
mnist    the MNIST idx files, downloaded (checksums verified) or from --from FOLDER
cifar10  the binary CIFAR-10 archive, downloaded or from --from (tar.gz or folder)

Each writes DIR/train_lmdb and DIR/test_lmdb (cifar10 also DIR/mean.binaryproto).
"""
import logging
import time

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    sub = parser.add_subparsers(dest="dataset", metavar="{digits,mnist,cifar10}")
    sub.required = True
    p = sub.add_parser("digits", help="synthetic handwritten-looking digits (offline)")
    p.add_argument("dir", help="output folder")
    p.add_argument("--train", type=int, default=24000, help="train images (default 24000)")
    p.add_argument("--test", type=int, default=4000, help="test images (default 4000)")
    p.add_argument("--seed", type=int, default=1701, help="generator seed (default 1701)")
    p = sub.add_parser("mnist", help="MNIST from the usual mirrors or a local folder")
    p.add_argument("dir", help="output folder")
    p.add_argument("--from", dest="source", default=None,
                   help="folder with the idx files (.gz or not) instead of downloading")
    p = sub.add_parser("cifar10", help="CIFAR-10 (binary version) as LMDBs and mean")
    p.add_argument("dir", help="output folder")
    p.add_argument("--from", dest="source", default=None,
                   help="cifar-10-binary.tar.gz or its extracted folder instead of downloading")
    p.add_argument("--bgr", action="store_true",
                   help="write B,G,R planes (default: the archive's R,G,B, as Caffe's converter)")


def run(args):
    start = time.perf_counter()
    if args.dataset == "digits":
        from caffeine.data import digits
        for name in ("train", "test"):
            if getattr(args, name) < 0:
                raise UsageError(f"--{name} must be >= 0", field=f"--{name}", expected=">= 0",
                                 found=getattr(args, name))
        paths = digits.build(args.dir, train=args.train, test=args.test, seed=args.seed)
        summary = f"{args.train} train and {args.test} test digits in {paths[0]}, {paths[1]}"
    elif args.dataset == "mnist":
        from caffeine.data import mnist
        written = mnist.convert(args.dir, args.source)
        summary = ", ".join(f"{n} {split} images in {p}" for split, (p, n) in written.items())
    else:
        from caffeine.data import cifar10
        written = cifar10.convert(args.dir, args.source, bgr=args.bgr)
        summary = ", ".join(f"{n} {split} images in {p}" for split, (p, n) in written.items())
    print(f"Wrote {summary} ({time.perf_counter() - start:.1f} s)")
    return 0
