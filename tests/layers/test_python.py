"""Python layers: a user module in a temp folder, forward/backward, learnable blobs, clear errors."""
import textwrap

import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.proto import caffe_pb2
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer

USER_MODULE = '''
import numpy as np
from caffeine.layers.python import PythonLayerBase


class ScaleByParamStr(PythonLayerBase):
    """y = k x with k = float(param_str)."""

    def setup(self, bottom, top):
        if len(bottom) != 1:
            raise Exception("needs one bottom")
        self.k = float(self.param_str)
        self.seen_phase = self.phase

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.k * bottom[0].data

    def backward(self, top, propagate_down, bottom):
        if propagate_down[0]:
            bottom[0].diff[...] = self.k * top[0].diff


class LearnedBias(PythonLayerBase):
    """y = x + b with a learnable bias b per channel (pycaffe's self.blobs.add_blob)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(bottom[0].shape[1])
        self.blobs[0].data[...] = np.arange(bottom[0].shape[1])

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data + self.blobs[0].data[None, :]

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += top[0].diff.sum(axis=0)
        if propagate_down[0]:
            bottom[0].diff[...] = top[0].diff


class DuckTyped:
    """A plain class (no base), as pycaffe also accepts any object with the methods."""

    def setup(self, bottom, top):
        self.count_seen = bottom[0].count()

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape)

    def forward(self, bottom, top):
        top[0].data[...] = bottom[0].data ** 2

    def backward(self, top, propagate_down, bottom):
        bottom[0].diff[...] = 2 * bottom[0].data * top[0].diff
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch, request):
    """Writes the user module under a name unique to the test and puts tmp_path on sys.path."""
    name = "user_layers_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def python_text(module, cls, param_str=""):
    return f'type: "Python" python_param {{ module: "{module}" layer: "{cls}" param_str: "{param_str}" }}'


def test_forward_backward_with_param_str(user_module):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    layer = make_layer(python_text(user_module, "ScaleByParamStr", "2.5"), phase=caffe_pb2.TEST)
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    assert layer.py.param_str == "2.5" and layer.py.seen_phase == caffe_pb2.TEST
    layer.forward(bottom, top)
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, 2.5 * x)
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, 2.5)
    check_gradient(layer, bottom, top)


def test_learnable_blob_added_by_user(user_module):
    x = np.random.default_rng(1).standard_normal((4, 3))
    layer = make_layer(python_text(user_module, "LearnedBias"))
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    assert len(layer.blobs) == 1 and layer.blobs[0].shape == (3,)
    assert layer.blobs is layer.py.blobs and layer.param_propagate_down == [True]
    assert layer.blobs[0].dtype == np.float64  # follows the bottom's dtype
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x + np.arange(3))
    check_gradient(layer, bottom, top)  # bottom and the user's param


def test_duck_typed_class_in_place(user_module):
    x = np.random.default_rng(2).standard_normal((3, 2)) + 3
    layer = make_layer(python_text(user_module, "DuckTyped"))
    b = blob_from(x)
    layer.layer_setup([b], [b])
    layer.forward([b], [b])
    np.testing.assert_allclose(b.data, x ** 2)
    assert layer.py.count_seen == 6


def test_missing_module_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    layer = make_layer(python_text("no_such_user_module_xyz", "Whatever"))
    with pytest.raises(ConfigError, match="cannot import Python layer module 'no_such_user_module_xyz'") as info:
        layer.layer_setup(blobs_from(np.ones(2)), empty_tops(1))
    assert "No module named" in str(info.value)


def test_missing_class_names_module_and_available_classes(user_module):
    layer = make_layer(python_text(user_module, "NoSuchLayer"))
    with pytest.raises(ConfigError, match=f"'{user_module}'.*no class 'NoSuchLayer'") as info:
        layer.layer_setup(blobs_from(np.ones(2)), empty_tops(1))
    assert "ScaleByParamStr" in str(info.value)


def test_module_raising_at_import_reports_original_error(tmp_path, monkeypatch):
    (tmp_path / "broken_user_layer_mod.py").write_text("import numpy\nraise RuntimeError('boom at import')\n")
    (tmp_path / "bad_dep_user_layer_mod.py").write_text("import definitely_missing_dependency_q\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for module, match in [("broken_user_layer_mod", "RuntimeError: boom at import"),
                          ("bad_dep_user_layer_mod", "definitely_missing_dependency_q")]:
        layer = make_layer(python_text(module, "X"))
        with pytest.raises(ConfigError, match=match) as info:
            layer.layer_setup(blobs_from(np.ones(2)), empty_tops(1))
        assert module in str(info.value)


def test_module_found_in_working_directory(tmp_path, monkeypatch):
    (tmp_path / "cwd_user_layer_mod.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    layer = make_layer(python_text("cwd_user_layer_mod", "ScaleByParamStr", "3"))
    bottom, top = blobs_from(np.ones(2)), empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, 3.0)


@pytest.mark.parametrize("param, match", [('python_param { layer: "X" }', "module"),
                                          ('python_param { module: "os" }', "layer")])
def test_missing_fields_rejected(param, match):
    layer = make_layer(f'type: "Python" {param}')
    with pytest.raises(ConfigError, match=match):
        layer.layer_setup(blobs_from(np.ones(2)), empty_tops(1))


def test_in_a_net_as_pycaffe(user_module, tmp_path):
    from caffeine.net import Net
    proto = tmp_path / "net.prototxt"
    proto.write_text(textwrap.dedent(f'''
        layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 2 dim: 3 }} }} }}
        layer {{ name: "bias" type: "Python" bottom: "data" top: "out"
                 python_param {{ module: "{user_module}" layer: "LearnedBias" }} }}
    '''))
    net = Net(str(proto), caffe_pb2.TEST)
    net.blobs["data"].data[...] = 1.0
    out = net.forward()
    np.testing.assert_allclose(out["out"], 1.0 + np.arange(3)[None, :].repeat(2, axis=0))
    assert net.params["bias"][0].shape == (3,)
