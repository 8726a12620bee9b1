"""Datasets and the data pipeline: DBs of Datums, Caffe's DataTransformer, prefetching,
and the built-in data sets (digits, MNIST, CIFAR-10)."""
from caffeine.data.db import LMDBReader, LMDBWriter, detect_backend, open_db, open_writer
from caffeine.data.prefetch import PrefetchPipeline
from caffeine.data.transformer import DataTransformer, decode_datum, load_mean_file

__all__ = ["LMDBReader", "LMDBWriter", "detect_backend", "open_db", "open_writer",
           "PrefetchPipeline", "DataTransformer", "decode_datum", "load_mean_file"]
