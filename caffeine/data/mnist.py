"""``caffeine data mnist DIR [--from LOCAL]``: MNIST as Caffe's LMDBs.

Downloads the four idx files from the usual mirrors (checksums verified), or converts
local ``*-idx?-ubyte[.gz]`` files from a folder, into ``DIR/train_lmdb`` and
``DIR/test_lmdb`` of Datums (1×28×28 uint8, label) with keys ``%08d`` — byte for byte
what Caffe's ``convert_mnist_data`` writes.  A folder with only the t10k files gives
only ``DIR/test_lmdb``.
"""
import gzip
import hashlib
import logging
import os

import numpy as np

from caffeine.data.download import fetch
from caffeine.errors import DataError

log = logging.getLogger("caffeine")

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# split -> (images file, labels file)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# md5 of the published .gz files, and of their decompressed contents (mirrors that
# recompress the archives still serve the same bytes)
GZ_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
RAW_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def read_idx_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read '{path}': {exc}", file=path) from None


def parse_idx(data, path, magic):
    """An idx file's array (big-endian header: magic, dims...; uint8 payload)."""
    if len(data) < 8:
        raise DataError(f"'{path}' is too short for an idx file", file=path)
    header = np.frombuffer(data[:4], dtype=">u4")[0]
    if header != magic:
        raise DataError(f"'{path}' is not an MNIST idx file", file=path, expected=magic,
                        found=int(header))
    ndim = 3 if magic == IMAGE_MAGIC else 1
    dims = tuple(int(d) for d in np.frombuffer(data[4:4 + 4 * ndim], dtype=">u4"))
    payload = data[4 + 4 * ndim:]
    if len(payload) != int(np.prod(dims)):
        raise DataError(f"'{path}' is truncated", file=path, expected=int(np.prod(dims)),
                        found=len(payload))
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def find_local(folder, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    return None


def load_split(images_path, labels_path):
    images = parse_idx(read_idx_bytes(images_path), images_path, IMAGE_MAGIC)
    labels = parse_idx(read_idx_bytes(labels_path), labels_path, LABEL_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"'{images_path}' has {len(images)} images but '{labels_path}' "
                        f"has {len(labels)} labels", file=labels_path)
    return images, labels


def check_known(path, stem):
    """Log whether a local file's content is the published one (it need not be)."""
    digest = hashlib.md5(read_idx_bytes(path)).hexdigest()
    if digest == RAW_MD5.get(stem):
        log.info("%s: checksum matches the published MNIST file", path)
    else:
        log.warning("%s: content differs from the published MNIST file (md5 %s)", path, digest)


def download(folder):
    """Fetch the four .gz files into ``folder/raw``; returns {stem: path}."""
    raw = os.path.join(folder, "raw")
    paths = {}
    for stem in GZ_MD5:
        try:
            paths[stem] = fetch(stem + ".gz", MIRRORS, GZ_MD5[stem], raw)
        except DataError:
            # a recompressed copy is fine if its content checks out
            path = os.path.join(raw, stem + ".gz")
            if os.path.exists(path) and \
                    hashlib.md5(read_idx_bytes(path)).hexdigest() == RAW_MD5[stem]:
                paths[stem] = path
            else:
                raise
    return paths


def convert(folder, source=None):
    """Write ``folder/{train,test}_lmdb``; returns {split: (path, count)}."""
    from caffeine.data.db import write_datums
    os.makedirs(folder, exist_ok=True)
    if source is None:
        found = download(folder)
    else:
        if not os.path.isdir(source):
            raise DataError(f"--from '{source}' is not a folder", file=source)
        found = {stem: find_local(source, stem) for stem in GZ_MD5}
    written = {}
    for split, (img_stem, lab_stem) in FILES.items():
        img, lab = found.get(img_stem), found.get(lab_stem)
        if img is None or lab is None:
            if (img is None) != (lab is None):
                missing = img_stem if img is None else lab_stem
                raise DataError(f"'{source}' has the {split} {'labels' if img else 'images'} "
                                f"but not {missing}[.gz]", file=source)
            log.info("No %s files (%s, %s) in %s; not writing %s_lmdb", split, img_stem,
                     lab_stem, source, split)
            continue
        if source is not None:
            check_known(img, img_stem)
        images, labels = load_split(img, lab)
        path = os.path.join(folder, f"{split}_lmdb")
        write_datums(path, images, labels, desc=f"mnist {split}")
        log.info("Wrote %d %s images to %s", len(images), split, path)
        written[split] = (path, len(images))
    if not written:
        raise DataError(f"no MNIST idx files in '{source}'", file=source,
                        expected="t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] "
                                 "(and/or the train-* pair)", found=sorted(os.listdir(source)))
    if "train" not in written:
        log.warning("Only the test set was found: wrote %s only (no train_lmdb)",
                    written["test"][0])
    return written
