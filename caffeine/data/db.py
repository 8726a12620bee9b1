"""Key/value databases of serialized Datums: LMDB (read/write) and LevelDB (via plyvel).

What Caffe's ``db_lmdb.cpp`` / ``db_leveldb.cpp`` did, with its traps removed:

* readers open LMDB read-only and lock-free (``lock=False``), so a train and a test
  net (or two processes) can read one DB at the same time;
* the writer commits every ``commit_every`` puts, so an interrupted conversion
  leaves a readable DB, and grows ``map_size`` when LMDB reports MDB_MAP_FULL
  (Caffe aborted there);
* the backend is detected from the folder (``data.mdb`` → LMDB, ``CURRENT`` or
  ``*.ldb`` → LevelDB) when it is not given or names the wrong one;
* a missing DB is a :class:`DataError` naming the path (and the layer, if any).
"""
import logging
import os
import threading

from caffeine.errors import DataError

log = logging.getLogger("caffeine")

LMDB, LEVELDB = "lmdb", "leveldb"
_BACKEND_NAMES = {0: LEVELDB, 1: LMDB, "leveldb": LEVELDB, "lmdb": LMDB,
                  "LEVELDB": LEVELDB, "LMDB": LMDB}
DEFAULT_MAP_SIZE = 1 << 26          # 64 MiB to start; grows by doubling when full
MAX_MAP_SIZE = 1 << 40              # Caffe's fixed 1 TiB map


def backend_name(backend):
    """'lmdb'/'leveldb' from a DataParameter.DB enum value or a string (None passes)."""
    if backend is None or backend == "":
        return None
    name = _BACKEND_NAMES.get(backend)
    if name is None:
        raise DataError(f"unknown DB backend {backend!r}", field="backend",
                        expected="lmdb or leveldb", found=backend)
    return name


def detect_backend(path):
    """The backend a DB folder was written with, or None when it is neither."""
    if os.path.isfile(path) and os.path.basename(path) == "data.mdb":
        return LMDB
    if not os.path.isdir(path):
        return None
    names = os.listdir(path)
    if "data.mdb" in names:
        return LMDB
    if "CURRENT" in names or any(n.endswith(".ldb") for n in names):
        return LEVELDB
    return None


def _require_plyvel(path, layer):
    try:
        import plyvel  # noqa: PLC0415 - optional backend
    except ImportError:
        raise DataError(f"'{path}' is a LevelDB; reading it needs the plyvel package "
                        "(pip install 'caffeine-dl[leveldb]') or convert it to LMDB",
                        file=path, layer=layer) from None
    return plyvel


def resolve_backend(path, backend=None, layer=None):
    """Check that ``path`` holds a DB and return its backend (detected wins over a wrong one)."""
    wanted = backend_name(backend)
    if not os.path.exists(path):
        raise DataError(f"data source '{path}' does not exist", file=path, layer=layer,
                        field="source")
    found = detect_backend(path)
    if found is None:
        raise DataError(f"'{path}' is not an LMDB (no data.mdb) nor a LevelDB (no CURRENT)",
                        file=path, layer=layer, field="source")
    if wanted is not None and wanted != found:
        log.warning("%s: backend says %s but '%s' is a %s; reading it as %s",
                    layer or "db", wanted, path, found, found)
    return found


# py-lmdb opens an environment once per process; readers of one path (a train and a
# test net on the same DB) share it, each with its own read transaction.
_ENVS = {}
_ENVS_LOCK = threading.Lock()


def _acquire_env(path, layer):
    import lmdb  # noqa: PLC0415
    key = os.path.realpath(path)
    with _ENVS_LOCK:
        entry = _ENVS.get(key)
        if entry is None:
            try:
                env = lmdb.open(path, readonly=True, lock=False, readahead=False,
                                subdir=os.path.isdir(path), max_readers=1024, meminit=False)
            except lmdb.Error as exc:
                raise DataError(f"cannot open LMDB '{path}': {exc}", file=path,
                                layer=layer) from None
            entry = _ENVS[key] = [env, 0]
        entry[1] += 1
        return key, entry[0]


def _release_env(key):
    with _ENVS_LOCK:
        entry = _ENVS.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del _ENVS[key]
                entry[0].close()


class _ClosedOnExit:
    """``with db:`` closes it on leaving the block, also on an error (a writer then commits
    what it was given, so an interrupted run leaves a readable DB)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LMDBReader(_ClosedOnExit):
    """Read-only, lock-free LMDB: ``len``, ``get(key)``, ordered iteration, cyclic batches."""

    backend = LMDB

    def __init__(self, path, layer=None):
        self.path = path
        self._key, self.env = _acquire_env(path, layer)
        self.txn = self.env.begin(buffers=False)
        self._cursor = None

    def __len__(self):
        return self.txn.stat()["entries"]

    def get(self, key):
        return self.txn.get(key.encode() if isinstance(key, str) else key)

    def items(self):
        """(key, value) pairs in key order (a fresh cursor)."""
        return iter(self.txn.cursor())

    def keys(self):
        return self.txn.cursor().iternext(keys=True, values=False)

    def values(self):
        return self.txn.cursor().iternext(keys=False, values=True)

    # -- Caffe's DataReader: a cursor that wraps around at the end ---------------------
    def skip(self, n):
        """Advance the cyclic cursor by n entries (rand_skip, resume)."""
        n = int(n)
        total = len(self)
        if total:
            n %= total
        cur = self._cyclic()
        for _ in range(n):
            if not cur.next():
                cur.first()

    def _cyclic(self):
        if self._cursor is None:
            self._cursor = self.txn.cursor()
            if not self._cursor.first():
                raise DataError(f"LMDB '{self.path}' is empty", file=self.path)
        return self._cursor

    def next_values(self, n):
        """The next n values, wrapping to the first entry at the end (as Caffe)."""
        cur = self._cyclic()
        out = []
        while len(out) < n:
            out.append(cur.value())
            if not cur.next():
                log.debug("Restarting data prefetching from start.")
                cur.first()
        return out

    def close(self):
        if self.env is not None:
            self.txn.abort()
            self.env = None
            _release_env(self._key)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class LevelDBReader(_ClosedOnExit):
    """LevelDB via plyvel (read-only use), with the same interface as LMDBReader."""

    backend = LEVELDB

    def __init__(self, path, layer=None):
        plyvel = _require_plyvel(path, layer)
        self.path = path
        try:
            self.db = plyvel.DB(path, create_if_missing=False)
        except Exception as exc:  # plyvel.Error and IOError (lock held by a writer)
            raise DataError(f"cannot open LevelDB '{path}': {exc}", file=path, layer=layer) from None
        self._iter = None
        self._len = None

    def __len__(self):
        if self._len is None:
            self._len = sum(1 for _ in self.db.iterator(include_value=False))
        return self._len

    def get(self, key):
        return self.db.get(key.encode() if isinstance(key, str) else key)

    def items(self):
        return iter(self.db.iterator())

    def keys(self):
        return iter(self.db.iterator(include_value=False))

    def values(self):
        return iter(self.db.iterator(include_key=False))

    def skip(self, n):
        total = len(self)
        self.next_values(int(n) % total if total else 0)

    def next_values(self, n):
        out = []
        while len(out) < n:
            if self._iter is None:
                self._iter = self.db.iterator(include_key=False)
            try:
                out.append(next(self._iter))
            except StopIteration:
                self._iter = None
                if not out and len(self) == 0:
                    raise DataError(f"LevelDB '{self.path}' is empty", file=self.path) from None
        return out

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None


def open_db(path, backend=None, layer=None):
    """Open a DB for reading, backend detected from the path (logs ``Opening lmdb PATH``)."""
    path = os.fspath(path)
    found = resolve_backend(path, backend, layer)
    log.info("Opening %s %s", found, path)
    return LMDBReader(path, layer) if found == LMDB else LevelDBReader(path, layer)


class LMDBWriter(_ClosedOnExit):
    """Transactional LMDB writer whose map grows on MDB_MAP_FULL.

    Puts are buffered and committed every ``commit_every`` puts (Caffe committed every
    1000); if a commit hits MDB_MAP_FULL the map size is doubled and the batch retried.
    """

    def __init__(self, path, map_size=DEFAULT_MAP_SIZE, commit_every=1000, clear=False):
        import lmdb  # noqa: PLC0415
        self._lmdb = lmdb
        self.path = os.fspath(path)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise DataError(f"cannot create LMDB '{self.path}': a file of that name exists",
                            file=self.path)
        os.makedirs(self.path, exist_ok=True)
        try:
            # meminit: unused page bytes are zeroed, so equal inputs give equal files
            self.env = lmdb.open(self.path, map_size=int(map_size), subdir=True,
                                 meminit=True, map_async=False)
        except lmdb.Error as exc:
            raise DataError(f"cannot create LMDB '{self.path}': {exc}", file=self.path) from None
        self.commit_every = max(1, int(commit_every))
        self._pending = []
        self.count = 0
        self.grow_count = 0
        if clear:
            with self.env.begin(write=True) as txn:
                if txn.stat()["entries"]:
                    log.info("Replacing the %d entries already in %s", txn.stat()["entries"],
                             self.path)
                    txn.drop(self.env.open_db(), delete=False)

    @property
    def map_size(self):
        return self.env.info()["map_size"]

    def put(self, key, value):
        self._pending.append((key.encode() if isinstance(key, str) else key, value))
        self.count += 1
        if len(self._pending) >= self.commit_every:
            self.commit()

    def commit(self):
        if not self._pending:
            return
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self._pending:
                        txn.put(k, v)
                break
            except self._lmdb.MapFullError:
                new_size = self.map_size * 2
                if new_size > MAX_MAP_SIZE:
                    raise
                log.info("LMDB %s is full; growing map_size to %s", self.path, _human(new_size))
                self.env.set_mapsize(new_size)
                self.grow_count += 1
        self._pending = []

    def close(self):
        if self.env is not None:
            self.commit()
            self.env.sync(True)
            self.env.close()
            self.env = None


class LevelDBWriter(_ClosedOnExit):
    """LevelDB writer via plyvel (batches of ``commit_every`` puts)."""

    def __init__(self, path, commit_every=1000, clear=False, **_):
        plyvel = _require_plyvel(path, None)
        self.path = os.fspath(path)
        self.db = plyvel.DB(self.path, create_if_missing=True)
        if clear:
            with self.db.write_batch() as wb:
                for k in self.db.iterator(include_value=False):
                    wb.delete(k)
        self.commit_every = max(1, int(commit_every))
        self._batch = self.db.write_batch()
        self._n = 0
        self.count = 0

    def put(self, key, value):
        self._batch.put(key.encode() if isinstance(key, str) else key, value)
        self._n += 1
        self.count += 1
        if self._n >= self.commit_every:
            self.commit()

    def commit(self):
        if self._n:
            self._batch.write()
            self._batch = self.db.write_batch()
            self._n = 0

    def close(self):
        if self.db is not None:
            self.commit()
            self.db.close()
            self.db = None


def _human(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}"
        n /= 1024
    return str(n)


def open_writer(path, backend="lmdb", **kw):
    """A writer for a new (or replaced, with clear=True) DB."""
    name = backend_name(backend) or LMDB
    return LMDBWriter(path, **kw) if name == LMDB else LevelDBWriter(path, **kw)


def write_datums(path, images, labels, desc=None, key_format=b"%08d"):
    """Datums (C×H×W uint8 or H×W gray, label) under keys '%08d' (convert_mnist_data)."""
    from caffeine.data.progress import progress
    from caffeine.proto import caffe_pb2
    if images.ndim == 3:
        images = images[:, None]
    datum = caffe_pb2.Datum(channels=images.shape[1], height=images.shape[2], width=images.shape[3])
    with open_writer(path, clear=True) as db, progress(total=len(images), desc=desc) as bar:
        for i in range(len(images)):
            datum.data = images[i].tobytes()
            datum.label = int(labels[i])
            db.put(key_format % i, datum.SerializeToString())
            if i % 1000 == 999:
                bar.update(1000)
        bar.update(len(images) % 1000)
    return len(images)
