"""Caffe's protobuf schema (``caffe_pb2``) and the I/O and upgrade helpers around it.

``caffe_pb2`` is generated from ``protos/caffe.proto`` by ``tools/gen_proto.py``
and committed, so installing caffeine needs no protobuf compiler.
"""

from caffeine.proto import caffe_pb2

__all__ = ["caffe_pb2"]
