"""`caffeine classify` and caffeine.Classifier.

The V1 CIFAR-10 caffemodels (Caffe's examples, legacy `layers`/`input_dim` format) classify the
shared test images exactly as OpenCV's dnn module does with the same preprocessing: resize to
32×32 (bilinear), BGR, 0..255, minus a per-channel mean.  The CIFAR example subtracts the
training-set mean image, which needs the CIFAR-10 training set; the constant used here is the
published CIFAR-10 per-channel mean (R 125.307, G 122.950, B 113.865), the same for both sides.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import caffeine
from caffeine.classifier import Classifier
from caffeine.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
CIFAR_MEAN_BGR = np.array([113.865, 122.950, 125.307], dtype=np.float32)
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
IMAGES = ["cat.jpg", "cat_gray.jpg", "fish-bike.jpg"]


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", "classify", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _main(capsys, *args):
    """The CLI in-process (faster than a subprocess): (exit status, stdout, stderr)."""
    import logging
    from caffeine.cli.main import main
    try:
        status = main(["classify", *args])
    finally:   # main() logs to the captured stderr; do not leave that handler behind
        logger = logging.getLogger("caffeine")
        for handler in [h for h in logger.handlers if getattr(h, "_caffeine", False)]:
            logger.removeHandler(handler)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _opencv_probs(deploy, weights, image_paths):
    import cv2
    net = cv2.dnn.readNetFromCaffe(str(deploy), str(weights))
    out = []
    for path in image_paths:
        bgr = cv2.imread(str(path)).astype(np.float32)
        small = cv2.resize(bgr, (32, 32), interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(small, 1.0, (32, 32), tuple(float(m) for m in CIFAR_MEAN_BGR), swapRB=False)
        net.setInput(blob)
        out.append(net.forward().reshape(-1))
    return np.stack(out)


@pytest.mark.parametrize("model,weights", [
    ("cifar10_quick_v1_deploy.prototxt", "cifar10_quick_iter_5000.caffemodel"),
    ("cifar10_full_v1_deploy.prototxt", "cifar10_full_iter_70000.caffemodel"),
])
def test_v1_cifar10_matches_opencv(tmp_path, shared, model, weights):
    deploy = shared("zoo", "legacy_v1", model)
    caffemodel = shared("zoo", "legacy_v1", weights)
    images = [shared("data", "images", name) for name in IMAGES]
    mean = tmp_path / "cifar_mean.npy"
    np.save(mean, CIFAR_MEAN_BGR)
    labels = tmp_path / "cifar10_labels.txt"
    labels.write_text("\n".join(CIFAR_CLASSES) + "\n")
    out = tmp_path / "preds.npy"
    result = _cli("--model_def", str(deploy), "--pretrained_model", str(caffemodel), "--images_dim", "32,32",
                  "--center_only", "--mean_file", str(mean), "--labels", str(labels), "--output", str(out),
                  "--top_k", "3", *map(str, images))
    assert result.returncode == 0, result.stderr
    ours = np.load(out)
    reference = _opencv_probs(deploy, caffemodel, images)
    assert ours.shape == reference.shape == (3, 10)
    np.testing.assert_array_equal(ours.argmax(axis=1), reference.argmax(axis=1))
    np.testing.assert_array_equal(np.argsort(-ours, axis=1)[:, :3], np.argsort(-reference, axis=1)[:, :3])
    np.testing.assert_allclose(ours, reference, atol=2e-5, rtol=1e-4)
    # the printed table: each image, then its top-3 with probability and label
    lines = result.stdout.splitlines()
    for i, path in enumerate(images):
        at = lines.index(str(path))
        top = int(reference[i].argmax())
        assert lines[at + 1].split()[:2] == ["1.", f"{reference[i, top]:.6f}"]
        assert lines[at + 1].endswith(CIFAR_CLASSES[top])


def test_folder_binaryproto_mean_and_oversample(tmp_path, shared, capsys):
    """A folder argument; a .binaryproto mean image; 10-crop oversample vs crops taken by hand."""
    from caffeine import io as cio
    from caffeine.proto import io as proto_io
    deploy = shared("zoo", "legacy_v1", "cifar10_quick_v1_deploy.prototxt")
    caffemodel = shared("zoo", "legacy_v1", "cifar10_quick_iter_5000.caffemodel")
    folder = shared("data", "images")
    mean_img = np.broadcast_to(CIFAR_MEAN_BGR[:, None, None], (3, 32, 32)).astype(np.float32)
    mean_file = tmp_path / "mean.binaryproto"
    proto_io.write_blobproto(cio.array_to_blobproto(mean_img[None]), str(mean_file))
    out = tmp_path / "p.npy"
    status, stdout, stderr = _main(capsys, "--model_def", str(deploy), "--pretrained_model", str(caffemodel),
                                   "--images_dim", "40,36", "--mean_file", str(mean_file), "--output", str(out),
                                   str(folder))
    assert status == 0, stderr
    assert [ln for ln in stdout.splitlines() if not ln.startswith(" ")] == [
        str(folder / name) for name in IMAGES]
    ours = np.load(out)
    # oracle: resize to 40x36, the 4 corners + centre and their mirrors, each through the net
    net = caffeine.Net(str(deploy), str(caffemodel), caffeine.TEST)
    expected = []
    for name in IMAGES:
        img = cio.resize_image(cio.load_image(str(folder / name)), (40, 36))
        starts = [(0, 0), (0, 4), (8, 0), (8, 4), (4, 2)]
        crops = [img[y:y + 32, x:x + 32] for y, x in starts]
        crops += [c[:, ::-1] for c in crops]
        probs = []
        for crop in crops:
            chw = crop.transpose(2, 0, 1)[::-1] * 255.0 - CIFAR_MEAN_BGR[:, None, None]
            probs.append(net.forward(data=chw[None].astype(np.float32))["prob"].ravel().copy())
        expected.append(np.mean(probs, axis=0))
    np.testing.assert_allclose(ours, np.stack(expected), rtol=1e-4, atol=1e-6)


def test_classifier_api_center_crop(shared):
    from caffeine import io as cio
    deploy = shared("zoo", "legacy_v1", "cifar10_full_v1_deploy.prototxt")
    caffemodel = shared("zoo", "legacy_v1", "cifar10_full_iter_70000.caffemodel")
    clf = Classifier(str(deploy), str(caffemodel), image_dims=(34, 34), mean=CIFAR_MEAN_BGR,
                     raw_scale=255, channel_swap=(2, 1, 0))
    img = cio.load_image(str(shared("data", "images", "fish-bike.jpg")))
    probs = clf.predict([img, img], oversample=False)
    assert probs.shape == (2, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(probs[0], probs[1])
    # centre crop of a 34x34 resize = rows/cols 1..33
    big = cio.resize_image(img, (34, 34))[1:33, 1:33]
    chw = big.transpose(2, 0, 1)[::-1] * 255.0 - CIFAR_MEAN_BGR[:, None, None]
    ref = caffeine.Net(str(deploy), str(caffemodel), caffeine.TEST).forward(data=chw[None].astype(np.float32))["prob"]
    np.testing.assert_allclose(probs[0], ref.ravel(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ConfigError, match="image_dims"):
        Classifier(str(deploy), str(caffemodel), image_dims=(16, 16))


def test_bad_input_exit_2(tmp_path, shared, capsys):
    deploy = shared("zoo", "legacy_v1", "cifar10_quick_v1_deploy.prototxt")
    caffemodel = shared("zoo", "legacy_v1", "cifar10_quick_iter_5000.caffemodel")
    image = str(shared("data", "images", "cat.jpg"))
    base = ["--model_def", str(deploy), "--pretrained_model", str(caffemodel), "--images_dim", "32,32"]
    labels = tmp_path / "three.txt"
    labels.write_text("a\nb\nc\n")
    cases = [
        (base + [str(tmp_path / "missing.jpg")], "not found"),
        (base + ["--channel_swap", "2,x,0", image], "--channel_swap"),
        (base + ["--mean_file", str(tmp_path / "nomean.npy"), image], "mean file not found"),
        (base + ["--labels", str(labels), image], "3 labels for a net with 10 outputs"),
        (["--model_def", str(deploy), "--pretrained_model", str(caffemodel), "--images_dim", "8,8", image],
         "image_dims"),
    ]
    for args, text in cases:
        status, _, stderr = _main(capsys, *args)
        assert status == 2, (args, stderr)
        assert text in stderr and "Traceback" not in stderr, stderr
