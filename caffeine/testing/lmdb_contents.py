"""What an LMDB holds, read with plain ``lmdb`` (not caffeine.data.db), for tests of the
tools and writers that fill one."""
import lmdb

from caffeine.proto import caffe_pb2


def read_lmdb(path):
    """Every (key, value) of the LMDB at path, as bytes, in key order."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        items = list(txn.cursor())
    env.close()
    return items


def read_datums(path):
    """Every (key bytes, Datum) of an LMDB of serialized Datums, in key order."""
    return [(k, caffe_pb2.Datum.FromString(v)) for k, v in read_lmdb(path)]
