"""LMDB read/write: interop with plain lmdb, map growth, backend detection, errors."""
import os
import subprocess
import sys

import numpy as np
import pytest

from caffeine.data.db import (LMDBReader, LMDBWriter, detect_backend, open_db, open_writer,
                              write_datums)
from caffeine.errors import DataError
from caffeine.proto import caffe_pb2
from caffeine.testing.lmdb_contents import read_lmdb


def _datum(i, size=64):
    return caffe_pb2.Datum(channels=1, height=8, width=size // 8, label=i % 10,
                           data=bytes([i % 256]) * size).SerializeToString()


def test_written_db_reads_back_in_plain_lmdb(tmp_path):
    path = tmp_path / "db"
    with open_writer(path, commit_every=7) as w:
        for i in range(50):
            w.put("%08d" % i, _datum(i))
    items = read_lmdb(path)
    assert [k for k, _ in items] == [b"%08d" % i for i in range(50)]
    d = caffe_pb2.Datum()
    d.ParseFromString(items[13][1])
    assert (d.label, d.data, d.channels) == (3, bytes([13]) * 64, 1)


def test_full_map_grows_instead_of_crashing(tmp_path, caffeine_log):
    path = tmp_path / "db"
    with LMDBWriter(path, map_size=1 << 15, commit_every=100) as w:
        start = w.map_size
        for i in range(2000):
            w.put(b"%08d" % i, _datum(i, 512))
        assert w.grow_count > 0 and w.map_size > start
    assert "is full; growing map_size" in caffeine_log.text
    with open_db(path) as r:
        assert len(r) == 2000
        assert r.get("%08d" % 1999) == _datum(1999, 512)


def test_commits_in_batches_so_partial_writes_are_readable(tmp_path):
    path = tmp_path / "db"
    w = LMDBWriter(path, commit_every=10)
    for i in range(25):
        w.put(b"%08d" % i, _datum(i))
    # another process reads while the writer is still open (as a crash would leave it)
    code = ("import lmdb,sys; e=lmdb.open(sys.argv[1], readonly=True, lock=False); "
            "print(e.stat()['entries'])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "20"
    w.close()
    with LMDBReader(str(path)) as r:
        assert len(r) == 25


def test_rewriting_with_clear_replaces_old_entries(tmp_path):
    path = tmp_path / "db"
    write_datums(path, np.zeros((5, 2, 2), np.uint8), np.arange(5))
    write_datums(path, np.ones((3, 2, 2), np.uint8), np.arange(3))
    with open_db(path) as r:
        assert len(r) == 3


def test_readers_are_lock_free_and_share_a_db(tmp_path):
    path = tmp_path / "db"
    write_datums(path, np.arange(40, dtype=np.uint8).reshape(10, 2, 2), np.arange(10))
    a, b = open_db(path), open_db(path)       # two readers in one process (train + test)
    assert a.next_values(4) == b.next_values(4)
    # each keeps its own cursor, which wraps around at the end (Caffe's DataReader)
    vals = a.next_values(10)
    assert len(vals) == 10 and vals[6] == a.get("%08d" % 0)
    assert b.next_values(1)[0] == a.get("%08d" % 4)
    a.close()
    assert b.get("%08d" % 9) is not None      # closing one reader leaves the other working
    b.close()



def test_skip_and_wrap(tmp_path):
    path = tmp_path / "db"
    write_datums(path, np.arange(12, dtype=np.uint8).reshape(3, 1, 2, 2), np.arange(3))
    with open_db(path) as r:
        r.skip(7)                              # 7 % 3 == 1
        keys = [caffe_pb2.Datum.FromString(v).label for v in r.next_values(5)]
    assert keys == [1, 2, 0, 1, 2]


def test_backend_detected_and_wrong_backend_overridden(tmp_path, caffeine_log):
    path = tmp_path / "db"
    write_datums(path, np.zeros((2, 2, 2), np.uint8), np.arange(2))
    assert detect_backend(str(path)) == "lmdb"
    with open_db(path, backend="leveldb", layer="mnist") as r:   # wrong: it is an LMDB
        assert r.backend == "lmdb" and len(r) == 2
    assert "is a lmdb" in caffeine_log.text
    with open_db(path, backend=0) as r:                            # DataParameter.LEVELDB enum
        assert r.backend == "lmdb"


def test_leveldb_without_plyvel_is_a_clear_error(tmp_path):
    try:
        import plyvel  # noqa: F401
        pytest.skip("plyvel is installed")
    except ImportError:
        pass
    path = tmp_path / "ldb"
    path.mkdir()
    (path / "CURRENT").write_text("MANIFEST-000001\n")
    (path / "000003.ldb").write_bytes(b"")
    assert detect_backend(str(path)) == "leveldb"
    with pytest.raises(DataError, match="plyvel"):
        open_db(path, layer="data")


def test_missing_db_names_path_and_layer(tmp_path):
    missing = tmp_path / "nope_lmdb"
    with pytest.raises(DataError, match="nope_lmdb.*does not exist") as err:
        open_db(missing, layer="mnist")
    assert "layer 'mnist'" in str(err.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="not an LMDB"):
        open_db(empty)
    with pytest.raises(DataError, match="unknown DB backend"):
        open_db(empty, backend="rocksdb")


def test_writer_refuses_a_file_path(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(DataError, match="a file of that name exists"):
        LMDBWriter(f)
    assert os.path.isfile(f)
