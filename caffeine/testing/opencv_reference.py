"""OpenCV dnn as an independent oracle: one Caffe layer on one NCHW input."""
import numpy as np


def opencv_forward(tmp_path, layer_text, x):
    """Output of OpenCV's Caffe importer for ``layer { <layer_text> }`` fed the 4-D x
    (as float32) through an Input layer; the prototxt is written into tmp_path."""
    import cv2  # noqa: PLC0415 - only the tests that compare with OpenCV need it
    n, c, h, w = x.shape
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(f'name: "t"\nlayer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ '
                     f'dim: {n} dim: {c} dim: {h} dim: {w} }} }} }}\n'
                     f'layer {{ name: "l" bottom: "data" top: "l" {layer_text} }}\n')
    net = cv2.dnn.readNetFromCaffe(str(proto))
    net.setInput(x.astype(np.float32))
    return net.forward("l")
