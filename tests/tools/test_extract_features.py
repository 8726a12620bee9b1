"""extract_features: forward a net over an LMDB and store blobs as float Datums."""
import numpy as np

from caffeine.cli.main import main
from caffeine.data.db import write_datums
from caffeine.proto import caffe_pb2
from caffeine.testing.lmdb_contents import read_datums

NET = """
layer { name: "data" type: "Data" top: "data" top: "label"
        data_param { source: "SOURCE" batch_size: 3 } transform_param { scale: 0.1 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 0.5 }
                              bias_filler { type: "constant" value: 0.25 } } }
layer { name: "s" type: "Silence" bottom: "label" }
"""


def test_extracts_blobs_as_float_datums(tmp_path, capsys):
    from caffeine.net import Net
    images = np.random.default_rng(0).integers(0, 256, (5, 2, 3, 3), dtype=np.uint8)
    write_datums(tmp_path / "db", images, np.arange(5))
    model = tmp_path / "net.prototxt"
    model.write_text(NET.replace("SOURCE", str(tmp_path / "db")))
    net = Net(str(model), caffe_pb2.TEST)
    net.save(str(tmp_path / "w.caffemodel"))
    w, b = net.params["ip"][0].data.copy(), net.params["ip"][1].data.copy()
    del net
    status = main(["extract_features", str(tmp_path / "w.caffemodel"), str(model), "ip,data",
                   f"{tmp_path / 'f_ip'},{tmp_path / 'f_data'}", "3", "lmdb"])
    assert status == 0, capsys.readouterr().err
    feats = read_datums(tmp_path / "f_ip")
    assert [k for k, _ in feats] == [b"%010d" % i for i in range(9)]       # 3 batches of 3
    order = [i % 5 for i in range(9)]                                     # the DB wraps around
    x = images[order].reshape(9, -1).astype(np.float32) * 0.1
    want = x @ w.T + b
    got = np.array([d.float_data for _, d in feats], dtype=np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    d = feats[0][1]
    assert (d.channels, d.height, d.width) == (4, 1, 1)
    data = read_datums(tmp_path / "f_data")
    assert (data[0][1].channels, data[0][1].height, data[0][1].width) == (2, 3, 3)
    assert main(["extract_features", str(tmp_path / "w.caffemodel"), str(model), "nope",
                 str(tmp_path / "f_nope"), "1"]) == 2
    assert "unknown feature blob name 'nope'" in capsys.readouterr().err


def test_usage_errors(tmp_path):
    write_datums(tmp_path / "db", np.zeros((2, 1, 2, 2), np.uint8), np.arange(2))
    model = tmp_path / "net.prototxt"
    model.write_text(NET.replace("SOURCE", str(tmp_path / "db")))
    assert main(["extract_features", "w", str(model), "ip,data", str(tmp_path / "one"), "1"]) == 2
    assert main(["extract_features", "w", str(model), "ip", str(tmp_path / "one"), "0"]) == 2
