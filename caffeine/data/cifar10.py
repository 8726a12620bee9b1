"""``caffeine data cifar10 DIR [--from LOCAL]``: CIFAR-10 as Caffe's LMDBs and mean.

Input: the binary CIFAR-10 archive (``cifar-10-binary.tar.gz``), downloaded with its
md5 verified, or a local copy (the .tar.gz or an extracted folder with
``data_batch_1..5.bin`` / ``test_batch.bin``).  Each record is 1 label byte and a
3×32×32 planar image.  Output, as Caffe's ``convert_cifar_data`` + ``compute_image_mean``:
``DIR/train_lmdb`` (50,000) and ``DIR/test_lmdb`` (10,000) Datums with keys ``%05d``,
and ``DIR/mean.binaryproto`` of the train set.

Channel order: Caffe's converter copies the record's planes as they are (R, G, B), and
Caffe's CIFAR-10 models were trained that way, so that is the default; ``bgr=True``
(``--bgr``) writes B, G, R planes instead, as ``convert_imageset`` does for images.
"""
import logging
import os
import tarfile

import numpy as np

from caffeine.data.download import fetch
from caffeine.errors import DataError

log = logging.getLogger("caffeine")

ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)


def parse_batch(data, name):
    """(N×3×32×32 uint8 planes as stored, labels) of one .bin file's bytes."""
    if len(data) % RECORD:
        raise DataError(f"'{name}' is not a CIFAR-10 binary batch "
                        f"({len(data)} bytes is not a multiple of {RECORD})", file=name)
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = rec[:, 0].copy()
    if labels.size and labels.max() > 9:
        raise DataError(f"'{name}' has labels above 9; is it CIFAR-100?", file=name,
                        expected="0..9", found=int(labels.max()))
    return rec[:, 1:].reshape(-1, 3, 32, 32), labels


def _read_members(source):
    """{file name: bytes} of the .bin files in a tar(.gz) or a folder (searched recursively)."""
    wanted = set(TRAIN_FILES + TEST_FILES)
    found = {}
    if os.path.isfile(source):
        try:
            with tarfile.open(source, "r:*") as tar:
                for member in tar.getmembers():
                    base = os.path.basename(member.name)
                    if member.isfile() and base in wanted:
                        found[base] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"cannot read archive '{source}': {exc}", file=source) from None
    elif os.path.isdir(source):
        for root, _, files in os.walk(source):
            for base in files:
                if base in wanted and base not in found:
                    with open(os.path.join(root, base), "rb") as f:
                        found[base] = f.read()
                elif base == ARCHIVE and not found:
                    found.update(_read_members(os.path.join(root, base)))
    else:
        raise DataError(f"--from '{source}' does not exist", file=source)
    return found


def convert(folder, source=None, bgr=False):
    """Write the LMDBs and mean into ``folder``; returns {split: (path, count)}."""
    from caffeine.data.db import write_datums
    from caffeine.data.transformer import write_mean_file
    os.makedirs(folder, exist_ok=True)
    if source is None:
        source = fetch(ARCHIVE, MIRRORS, ARCHIVE_MD5, os.path.join(folder, "raw"))
    members = _read_members(source)
    written = {}
    for split, names in (("train", TRAIN_FILES), ("test", TEST_FILES)):
        present = [n for n in names if n in members]
        if not present:
            log.info("No %s batches in %s; not writing %s_lmdb", split, source, split)
            continue
        if len(present) != len(names):
            missing = sorted(set(names) - set(present))
            raise DataError(f"'{source}' lacks {', '.join(missing)}", file=source)
        parts = [parse_batch(members[n], n) for n in names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if bgr:
            images = images[:, ::-1]
        path = os.path.join(folder, f"{split}_lmdb")
        write_datums(path, np.ascontiguousarray(images), labels, desc=f"cifar10 {split}",
                   key_format=b"%05d")
        log.info("Wrote %d %s images to %s", len(images), split, path)
        written[split] = (path, len(images))
        if split == "train":
            mean = images.mean(axis=0, dtype=np.float64)
            mean_path = os.path.join(folder, "mean.binaryproto")
            write_mean_file(mean_path, mean)
            log.info("Wrote the train mean to %s", mean_path)
    if not written:
        raise DataError(f"no CIFAR-10 binary batches found in '{source}'", file=source,
                        expected="cifar-10-binary.tar.gz or data_batch_*.bin / test_batch.bin")
    return written
