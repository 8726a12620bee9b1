"""Data layer: batches of Datums from an LMDB (or LevelDB), as Caffe's DataLayer.

``data_param { source batch_size backend rand_skip prefetch }`` and
``transform_param``; tops ``data`` (N×C×H×W) and optionally ``label`` (N,).
The shape comes from the first Datum; encoded (JPEG/PNG) Datums are decoded with
``cv2.imdecode``; ``float_data`` Datums work too.  The DB cursor wraps around at the
end, as Caffe's DataReader.  In GPU mode uint8 batches are transformed on the device
(see ``base_data``); float_data ones on the host.
"""
import logging

import numpy as np

from caffeine.data.db import open_db
from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base_data import BasePrefetchingDataLayer
from caffeine.paths import resolve_path

log = logging.getLogger("caffeine")


def parse_datum(value, source=None):
    from caffeine.proto import caffe_pb2
    datum = caffe_pb2.Datum()
    try:
        datum.ParseFromString(value)
    except Exception:
        raise DataError(f"a value in '{source}' is not a serialized Datum", file=source) from None
    return datum


def datums_to_batch(datums, decode):
    """uint8/float N×C×H×W array (or a list when sizes differ) and the labels of Datums."""
    labels = np.fromiter((d.label for d in datums), dtype=np.float32, count=len(datums))
    first = datums[0]
    raw_uint8 = not first.encoded and len(first.data) > 0
    if raw_uint8 and all(not d.encoded and d.channels == first.channels and d.height == first.height
                         and d.width == first.width for d in datums):
        shape = (first.channels, first.height, first.width)
        size = int(np.prod(shape))
        buf = b"".join(d.data for d in datums)
        if len(buf) != size * len(datums):
            raise DataError(f"Datum data sizes do not match {shape[0]}x{shape[1]}x{shape[2]}",
                            expected=size * len(datums), found=len(buf))
        return np.frombuffer(buf, dtype=np.uint8).reshape((len(datums),) + shape), labels
    items = [decode(d) for d in datums]
    return items, labels


@register_layer("Data")
class DataLayer(BasePrefetchingDataLayer):
    legacy_param_name = "data_param"

    def data_setup(self, top):
        dp = self.layer_param.data_param
        self.batch_size = int(dp.batch_size)
        if self.batch_size <= 0:
            raise self.error("batch_size must be positive", field="batch_size", expected="> 0",
                             found=self.batch_size)
        if not dp.source:
            raise self.error("data_param.source is not set", cls=DataError, field="source")
        if dp.force_encoded_color:
            self.transformer.force_color = True
        self.prefetch_count = max(1, int(dp.prefetch))
        self.source = resolve_path(dp.source, self.source_dir)
        self.db = open_db(self.source, dp.backend if dp.HasField("backend") else None, self.name)
        if len(self.db) == 0:
            raise self.error(f"data source '{self.source}' is empty", cls=DataError,
                             file=self.source)
        self.skip = 0
        if dp.rand_skip:
            # Caffe: skip = caffe_rng_rand() % rand_skip
            self.skip = int(np.random.default_rng([self.seed, 0x5C1B]).integers(0, dp.rand_skip))
            log.info("Skipping first %d data points.", self.skip)
        self.db.skip(self.skip)
        first = parse_datum(next(self.db.values()), self.source)
        item = self.transformer.decode(first)
        self.transformer.check_shape(item.shape)
        c, h, w = self.transformer.output_shape(item.shape)
        shapes = [(self.batch_size, c, h, w)]
        log.info("output data size: %d,%d,%d,%d", self.batch_size, c, h, w)
        if self.output_labels:
            shapes.append((self.batch_size,))
        return shapes

    def rewind(self, start_index):
        self.db.close()
        dp = self.layer_param.data_param
        self.db = open_db(self.source, dp.backend if dp.HasField("backend") else None, self.name)
        self.db.skip(self.skip + start_index * self.batch_size)

    def read_batch(self, index):
        return self.db.next_values(self.batch_size)

    def load_batch(self, values):
        datums = [parse_datum(v, self.source) for v in values]
        try:
            return datums_to_batch(datums, self.transformer.decode)
        except DataError as exc:
            raise exc.with_context(layer=self.name, layer_type=self.type, file=self.source)
