"""Net construction, forward/backward wiring, sharing and weights I/O."""
import logging

import numpy as np
import pytest

from caffeine import TEST, TRAIN, backend
from caffeine.errors import ConfigError, LayerConfigError, ShapeError, WeightsError
from caffeine.net import Net
from caffeine.proto import io as proto_io

MLP = '''
name: "mlp"
layer { name: "data" type: "Input" top: "data" top: "target"
        input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
        inner_product_param { num_output: 5 weight_filler { type: "gaussian" std: 0.5 }
                              bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2"
        inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip2" bottom: "target" top: "loss" }
'''


def make_net(text=MLP, phase=TRAIN, tmp_path=None, **kw):
    backend.set_random_seed(3)
    param = proto_io.parse_net_text(text)
    return Net(param, phase=phase, **kw)


def numpy_mlp(net, x, t):
    w1, b1 = (p.data for p in net.params["ip1"])
    w2, b2 = (p.data for p in net.params["ip2"])
    h = np.maximum(x @ w1.T + b1, 0)
    y = h @ w2.T + b2
    loss = ((y - t) ** 2).sum() / (2 * x.shape[0])
    dy = (y - t) / x.shape[0]
    dw2 = dy.T @ h
    dh = (dy @ w2) * (h > 0)
    dw1 = dh.T @ x
    return loss, dw1, dh.sum(0), dw2, dy.sum(0)


def test_forward_backward_match_numpy():
    net = make_net()
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    net.blobs["data"].data[...] = x
    net.blobs["target"].data[...] = t
    loss = net.forward_backward()
    ref_loss, dw1, db1, dw2, db2 = numpy_mlp(net, x, t)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    np.testing.assert_allclose(net.params["ip1"][0].diff, dw1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.params["ip1"][1].diff, db1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.params["ip2"][0].diff, dw2, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(net.params["ip2"][1].diff, db2, rtol=1e-4, atol=1e-6)


def test_param_diffs_accumulate_and_clear():
    net = make_net()
    net.blobs["data"].data[...] = 1.0
    net.forward_backward()
    once = net.params["ip2"][0].diff.copy()
    net.forward_backward()
    np.testing.assert_allclose(net.params["ip2"][0].diff, 2 * once, rtol=1e-6)
    net.clear_param_diffs()
    assert not net.params["ip2"][0].diff.any()


def test_pycaffe_names_and_outputs():
    net = make_net()
    assert net.inputs == ["data", "target"]
    assert net.outputs == ["loss"]
    assert list(net.layer_dict) == net._layer_names == ["data", "ip1", "relu1", "ip2", "loss"]
    assert net.top_names["ip1"] == ["ip1"] and net.bottom_names["loss"] == ["ip2", "target"]
    out = net.forward(data=np.ones((4, 3)), target=np.zeros((4, 2)))
    assert set(out) == {"loss"} and out["loss"].shape == ()
    assert net.blob_loss_weights == {"loss": 1.0}
    diffs = net.backward()
    assert set(diffs) == {"data", "target"}


def test_weight_sharing_sums_diffs():
    text = MLP.replace('layer { name: "ip2"', 'layer { name: "ip2x" type: "InnerProduct" bottom: "ip1" '
                       'top: "ip2x" param { name: "w" } param { name: "b" } inner_product_param { num_output: 2 } }\n'
                       'layer { name: "ip2"').replace(
        'top: "ip2"\n        inner_product_param', 'top: "ip2"\n        param { name: "w" } param { name: "b" } '
        'inner_product_param')
    text = text.replace('bottom: "ip2" bottom: "target"', 'bottom: "ip2" bottom: "target" ')
    text += 'layer { name: "loss2" type: "EuclideanLoss" bottom: "ip2x" bottom: "target" top: "loss2" }\n'
    net = make_net(text)
    w_a, w_b = net.params["ip2x"][0], net.params["ip2"][0]
    assert w_a.shares_data_with(w_b) and w_a.shares_diff_with(w_b)
    assert len(net.learnable_params) == 4  # ip1 w,b + shared w,b
    net.blobs["data"].data[...] = np.random.default_rng(1).standard_normal((4, 3))
    net.forward_backward()
    # two identical branches and losses: the shared diff is twice one branch's
    net2 = make_net()
    net2.params["ip1"][0].data[...] = net.params["ip1"][0].data
    net2.params["ip1"][1].data[...] = net.params["ip1"][1].data
    net2.params["ip2"][0].data[...] = w_b.data
    net2.params["ip2"][1].data[...] = net.params["ip2"][1].data
    net2.blobs["data"].data[...] = net.blobs["data"].data
    net2.forward_backward()
    np.testing.assert_allclose(w_b.diff, 2 * net2.params["ip2"][0].diff, rtol=1e-5)


def test_split_inserted_and_bottom_diff_summed():
    text = MLP + 'layer { name: "loss2" type: "EuclideanLoss" bottom: "ip1" bottom: "ip1" top: "l2" }\n'
    net = make_net(text)
    assert "ip1_relu1_0_split" in net.layer_names


def test_backward_pruning_and_force_backward(caplog):
    text = MLP + 'layer { name: "side" type: "InnerProduct" bottom: "ip2" top: "side" inner_product_param { num_output: 1 } }\n'
    with caplog.at_level(logging.INFO, logger="caffeine"):
        net = make_net(text)
    need = dict(zip(net.layer_names, net.layer_need_backward))
    assert need["ip1"] and need["loss"] and not need["side"] and not need["data"]
    assert "side does not need backward computation." in caplog.text
    assert "Top shape: 4 5 (20)" in caplog.text
    forced = make_net("force_backward: true\n" + MLP)
    assert forced.bottom_need_backward[forced.layer_names.index("ip1")] == [True]


def test_lr_mult_zero_freezes_layer_backward():
    text = MLP.replace('top: "ip1"\n        inner_product_param', 'top: "ip1"\n        param { lr_mult: 0 } '
                       'param { lr_mult: 0 } inner_product_param')
    net = make_net(text)
    assert net.params_lr[:2] == [0.0, 0.0]
    assert not net.layer_need_backward[net.layer_names.index("ip1")]


def test_errors_name_layer_and_blob():
    with pytest.raises(LayerConfigError, match="layer 'ip1'.*unknown bottom blob 'nope'"):
        make_net(MLP.replace('bottom: "data" top: "ip1"', 'bottom: "nope" top: "ip1"'))
    with pytest.raises(LayerConfigError, match="did you mean 'InnerProduct'"):
        make_net(MLP.replace('type: "InnerProduct" bottom: "data"', 'type: "InnerProdcut" bottom: "data"'))
    with pytest.raises(LayerConfigError, match="produced by multiple sources"):
        make_net(MLP.replace('layer { name: "loss"', 'layer { name: "dup" type: "ReLU" bottom: "ip2" top: "target" }\nlayer { name: "loss"'))


def saved_mlp(tmp_path):
    """The MLP net and the path of its saved .caffemodel (the weights copy_from reads)."""
    net = make_net()
    path = tmp_path / "m.caffemodel"
    net.save(str(path))
    return net, path


def test_save_and_copy_from_round_trip(tmp_path, caplog):
    net, path = saved_mlp(tmp_path)
    other = make_net(MLP.replace("std: 0.5", "std: 2.0"))
    with caplog.at_level(logging.INFO, logger="caffeine"):
        report = other.copy_from(str(path))
    assert report["copied"] == ["ip1", "ip2"] and report["new"] == []
    for name in ("ip1", "ip2"):
        for a, b in zip(net.params[name], other.params[name]):
            np.testing.assert_array_equal(a.data, b.data)
    assert "Copying source layer ip1" in caplog.text
    # pycaffe constructor order
    third = Net(proto_io.parse_net_text(MLP), TEST, weights=str(path))
    np.testing.assert_array_equal(third.params["ip2"][0].data, net.params["ip2"][0].data)


def test_copy_from_renamed_head_reports_new_and_ignored(tmp_path, caplog):
    _, path = saved_mlp(tmp_path)
    renamed = make_net(MLP.replace('name: "ip2"', 'name: "ip2_new"'))
    with caplog.at_level(logging.INFO, logger="caffeine"):
        report = renamed.copy_from(str(path))
    assert report == {"copied": ["ip1"], "ignored": ["ip2"], "new": ["ip2_new"]}
    assert "Ignoring source layer ip2" in caplog.text
    assert "ip2_new was NOT initialized" in caplog.text


def test_copy_from_shape_mismatch_is_clear(tmp_path):
    _, path = saved_mlp(tmp_path)
    wider = make_net(MLP.replace("num_output: 5", "num_output: 6"))
    with pytest.raises(WeightsError, match=r"shape mismatch.*rename the layer") as info:
        wider.copy_from(str(path))
    assert info.value.layer == "ip1" and info.value.expected == (6, 3)


def test_prototxt_file_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.prototxt"
    bad.write_text('name: "x"\nlayer {\n  name: "a"\n  typ: "ReLU"\n}\n')
    with pytest.raises(ConfigError) as info:
        Net(str(bad), TEST)
    assert "bad.prototxt:4" in str(info.value)


def test_float64_net_for_gradient_checks():
    net = make_net(dtype=np.float64)
    assert net.blobs["ip1"].dtype == np.float64 and net.params["ip1"][0].dtype == np.float64


SHARED_MODES = '''
layer { name: "data" type: "Input" top: "x" top: "img"
        input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 3 dim: 2 dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" param { name: "w" }
        inner_product_param { num_output: 2 bias_term: false } }
layer { name: "conv" type: "Convolution" bottom: "img" top: "z" param { name: "w" MODE }
        convolution_param { num_output: 2 kernel_size: 1 bias_term: false } }
'''


def test_param_sharing_share_mode_strict_and_permissive():
    """STRICT (default) needs equal shapes; PERMISSIVE only equal counts (Caffe's ParamSpec)."""
    with pytest.raises(ShapeError, match="cannot share param 'w'"):
        make_net(SHARED_MODES.replace("MODE", ""))
    net = make_net(SHARED_MODES.replace("MODE", "share_mode: PERMISSIVE"))
    ip_w, conv_w = net.params["ip"][0], net.params["conv"][0]
    assert ip_w.shape == (2, 3) and conv_w.shape == (2, 3, 1, 1) and conv_w.shares_data_with(ip_w)
