"""`caffeine zoo`: front matter, download from a local HTTP server (Range resume, sha1, atomic
placement), offline --from install, and the CLI's exit codes.  No network: the server is a
thread on 127.0.0.1 serving bytes made here."""
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from caffeine import zoo
from caffeine.errors import ConfigError, WeightsError

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = np.random.default_rng(8).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
SHA1 = hashlib.sha1(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /model.caffemodel with Range support; modes set by the test."""
    mode = "range"          # "range" | "ignore-range" | "truncate"
    seen_ranges = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/model.caffemodel":
            self.send_error(404)
            return
        data, status = PAYLOAD, 200
        rng = self.headers.get("Range")
        type(self).seen_ranges.append(rng)
        headers = {}
        if rng and self.mode != "ignore-range":
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                self.end_headers()
                return
            data, status = PAYLOAD[start:], 206
            headers["Content-Range"] = f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.mode == "truncate":
            self.wfile.write(data[: len(data) // 3])   # promise everything, send a third, hang up
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


@pytest.fixture
def server():
    _Handler.mode = "range"
    _Handler.seen_ranges = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _model(root, url, sha1=SHA1, name="toy"):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "readme.md").write_text(
        f"---\nname: Toy model\ncaffemodel: toy.caffemodel\ncaffemodel_url: {url}\n"
        f"license: unrestricted\nsha1: {sha1}\n---\n\nA test model.\n")
    return folder


def test_front_matter_of_every_repository_model():
    models = {m["folder"]: m for m in zoo.list_models(REPO / "models")}
    for name in ("cifar10_quick", "cifar10_full", "bvlc_reference_caffenet", "bvlc_alexnet", "bvlc_googlenet",
                 "vgg16", "resnet50", "squeezenet_v1.1", "mobilenet_v1"):
        info = models[name]
        assert set(zoo.FRONT_MATTER_KEYS) <= set(info), name
        assert info["caffemodel"].endswith(".caffemodel")
        assert zoo.expected_checksum(info) is not None, name
    assert models["bvlc_alexnet"]["sha1"] == "9116a64c0fbe4459d18f4bb6b56d647b63920377"
    assert models["bvlc_googlenet"]["caffemodel_url"] == "http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel"


def test_download_verifies_and_places_atomically(tmp_path, server):
    folder = _model(tmp_path, server + "/model.caffemodel")
    dest = zoo.download("toy", tmp_path, progress=False, log=lambda *_: None)
    assert dest == folder / "toy.caffemodel"
    assert dest.read_bytes() == PAYLOAD
    assert not (folder / "toy.caffemodel.part").exists()
    assert _Handler.seen_ranges == [None]
    # a verified file is not fetched again
    zoo.download("toy", tmp_path, progress=False, log=lambda *_: None)
    assert _Handler.seen_ranges == [None]


def test_interrupted_download_keeps_part_and_resumes_with_range(tmp_path, server):
    folder = _model(tmp_path, server + "/model.caffemodel")
    _Handler.mode = "truncate"
    with pytest.raises(zoo.DownloadError, match="resume"):
        zoo.download("toy", tmp_path, progress=False, log=lambda *_: None)
    part = folder / "toy.caffemodel.part"
    assert not (folder / "toy.caffemodel").exists()          # never a half file under the final name
    got = part.stat().st_size
    assert 0 < got < len(PAYLOAD)
    assert part.read_bytes() == PAYLOAD[:got]
    _Handler.mode = "range"
    messages = []
    dest = zoo.download("toy", tmp_path, progress=False, log=messages.append)
    assert _Handler.seen_ranges[-1] == f"bytes={got}-"
    assert any("Resuming" in m for m in messages)
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_from_zero(tmp_path, server):
    folder = _model(tmp_path, server + "/model.caffemodel")
    (folder / "toy.caffemodel.part").write_bytes(b"garbage that is not the start of the file")
    _Handler.mode = "ignore-range"
    dest = zoo.download("toy", tmp_path, progress=False, log=lambda *_: None)
    assert _Handler.seen_ranges[-1] is not None
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_download(tmp_path, server):
    folder = _model(tmp_path, server + "/model.caffemodel", sha1="0" * 40)
    with pytest.raises(zoo.DownloadError, match="sha1"):
        zoo.download("toy", tmp_path, progress=False, log=lambda *_: None)
    assert not (folder / "toy.caffemodel").exists()
    assert not (folder / "toy.caffemodel.part").exists()


def test_install_from_local_file(tmp_path):
    folder = _model(tmp_path, "")
    good = tmp_path / "good.caffemodel"
    good.write_bytes(PAYLOAD)
    bad = tmp_path / "bad.caffemodel"
    bad.write_bytes(PAYLOAD[:-1] + b"x")
    with pytest.raises(WeightsError, match="does not match"):
        zoo.install_local("toy", bad, tmp_path, log=lambda *_: None)
    assert not (folder / "toy.caffemodel").exists()
    dest = zoo.install_local("toy", good, tmp_path, log=lambda *_: None)
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in folder.iterdir() if "tmp" in p.name] == []


def test_model_without_url_or_checksum_is_refused(tmp_path):
    _model(tmp_path, "", sha1="")
    with pytest.raises(ConfigError, match="caffemodel_url"):
        zoo.download("toy", tmp_path, skip_checksum=True)
    src = tmp_path / "x.caffemodel"
    src.write_bytes(b"abc")
    with pytest.raises(ConfigError, match="no sha1 or md5"):
        zoo.install_local("toy", src, tmp_path)
    assert zoo.install_local("toy", src, tmp_path, skip_checksum=True, log=lambda *_: None).read_bytes() == b"abc"


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", "zoo", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=60)


def test_cli_list_download_and_from(tmp_path, server):
    _model(tmp_path, server + "/model.caffemodel")
    listed = _cli("list", "--models", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    assert "toy" in listed.stdout and "no" in listed.stdout
    done = _cli("download", "toy", "--models", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "toy" / "toy.caffemodel").read_bytes() == PAYLOAD
    assert "yes" in _cli("list", "--models", str(tmp_path)).stdout
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"not it")
    bad = _cli("download", "toy", "--models", str(tmp_path), "--from", str(wrong))
    assert bad.returncode == 2
    assert "does not match" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli("download", "nosuch", "--models", str(tmp_path))
    assert missing.returncode == 2 and "no model 'nosuch'" in missing.stderr


def test_cli_network_failure_is_exit_1(tmp_path):
    _model(tmp_path, "http://127.0.0.1:9/model.caffemodel")   # discard port: nothing listens
    result = _cli("download", "toy", "--models", str(tmp_path), "--timeout", "5")
    assert result.returncode == 1
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


def test_cli_installs_shared_cifar10_quick_snapshot(tmp_path, shared):
    src = shared("zoo", "legacy_v1", "cifar10_quick_iter_5000.caffemodel")
    root = tmp_path / "models"
    root.mkdir()
    import shutil
    shutil.copytree(REPO / "models" / "cifar10_quick", root / "cifar10_quick")
    result = _cli("download", "cifar10_quick", "--models", str(root), "--from", str(src))
    assert result.returncode == 0, result.stderr
    assert (root / "cifar10_quick" / "cifar10_quick_iter_5000.caffemodel").read_bytes() == src.read_bytes()
