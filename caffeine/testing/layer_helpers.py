"""Build a single layer from prototxt text and blobs from arrays, for layer tests."""
import numpy as np
from google.protobuf import text_format

from caffeine.blob import Blob


def layer_param(text):
    from caffeine.proto import caffe_pb2
    return text_format.Parse(text, caffe_pb2.LayerParameter())


def make_layer(text, phase=None):
    """``make_layer('type: "ReLU" relu_param { negative_slope: 0.1 }')`` -> Layer (not set up)."""
    from caffeine.layers import create_layer
    from caffeine.proto import caffe_pb2
    param = layer_param(text)
    if not param.name:
        param.name = param.type.lower() or "layer"
    return create_layer(param, caffe_pb2.TRAIN if phase is None else phase)


def blob_from(array, dtype=np.float64, name=None):
    array = np.asarray(array)
    b = Blob(array.shape, dtype=dtype, name=name)
    b.data[...] = array
    return b


def blobs_from(*arrays, dtype=np.float64):
    return [blob_from(a, dtype=dtype, name=f"b{i}") for i, a in enumerate(arrays)]


def empty_tops(n, dtype=np.float64):
    return [Blob(dtype=dtype, name=f"t{i}") for i in range(n)]


def run_layer(text, bottoms, n_top=1, phase=None, dtype=np.float64):
    """Set up and forward a layer; returns (layer, bottom_blobs, top_blobs)."""
    layer = make_layer(text, phase)
    bottom = blobs_from(*bottoms, dtype=dtype)
    top = empty_tops(n_top, dtype=dtype)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    return layer, bottom, top
