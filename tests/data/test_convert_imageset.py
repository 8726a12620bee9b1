"""convert_imageset on mixed JPEG/PNG images of random sizes, bad lists, --check_size."""
import cv2
import numpy as np
import pytest

from caffeine.cli.main import main
from caffeine.testing.lmdb_contents import read_datums


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    (root / "sub dir").mkdir(parents=True)
    names, originals = [], {}
    for i in range(8):
        h, w = rng.integers(12, 40, size=2)
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = cv2.GaussianBlur(img, (5, 5), 2)          # JPEG-friendly content
        name = f"sub dir/img {i}.png" if i % 2 else f"img{i}.jpg"
        cv2.imwrite(str(root / name), img)
        names.append(name)
        originals[name] = cv2.imread(str(root / name))  # the decoded file (JPEG is lossy)
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join(f"{n} {i % 3}\n" for i, n in enumerate(names)))
    return root, listfile, names, originals


def _read(path):
    return [(k.decode(), d) for k, d in read_datums(path)]


def test_resized_datums_equal_opencv_resize_in_bgr_planar(image_folder, tmp_path, capsys):
    root, listfile, names, originals = image_folder
    db = tmp_path / "db"
    assert main(["convert_imageset", "--resize_height", "20", "--resize_width", "24",
                 f"{root}/", str(listfile), str(db)]) == 0
    assert "Processed 8 files." in capsys.readouterr().out
    items = _read(db)
    assert [k for k, _ in items] == [f"{i:08d}_{n}" for i, n in enumerate(names)]
    for i, (key, d) in enumerate(items):
        assert (d.channels, d.height, d.width, d.label, d.encoded) == (3, 20, 24, i % 3, False)
        want = cv2.resize(originals[names[i]], (24, 20), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(3, 20, 24),
                                      want.transpose(2, 0, 1))


def test_encoded_variant_decodes_to_the_same_pixels(image_folder, tmp_path):
    root, listfile, names, originals = image_folder
    assert main(["convert_imageset", "--encoded", f"{root}/", str(listfile), str(tmp_path / "enc")]) == 0
    for i, (_, d) in enumerate(_read(tmp_path / "enc")):
        assert d.encoded
        with open(root / names[i], "rb") as f:                 # the file's own bytes
            assert d.data == f.read()
        np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(d.data, np.uint8), -1),
                                      originals[names[i]])
    # resized and re-encoded losslessly as PNG: same pixels as the raw Datums
    args = ["--resize_height", "16", "--resize_width", "16", f"{root}/", str(listfile)]
    assert main(["convert_imageset", "--encoded", "--encode_type", "png", *args, str(tmp_path / "png")]) == 0
    assert main(["convert_imageset", *args, str(tmp_path / "raw")]) == 0
    for (_, e), (_, r) in zip(_read(tmp_path / "png"), _read(tmp_path / "raw")):
        dec = cv2.imdecode(np.frombuffer(e.data, np.uint8), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(dec.transpose(2, 0, 1).ravel(), np.frombuffer(r.data, np.uint8))


def test_gray_and_shuffle(image_folder, tmp_path):
    root, listfile, names, originals = image_folder
    assert main(["convert_imageset", "-gray", "-shuffle", "-seed", "3", f"{root}/", str(listfile),
                 str(tmp_path / "g")]) == 0
    items = _read(tmp_path / "g")
    assert sorted(k.split("_", 1)[1] for k, _ in items) == sorted(names)
    assert [k.split("_", 1)[1] for k, _ in items] != names            # order shuffled
    key, d = items[0]
    name = key.split("_", 1)[1]
    assert d.channels == 1
    np.testing.assert_array_equal(np.frombuffer(d.data, np.uint8).reshape(d.height, d.width),
                                  cv2.imread(str(root / name), cv2.IMREAD_GRAYSCALE))


def test_bad_lines_reported_with_line_numbers_and_skipped(image_folder, tmp_path, capsys):
    root, listfile, names, _ = image_folder
    (root / "notes.txt").write_text("not an image")
    listfile.write_text(f"{names[0]} 1\nmissing.jpg 2\n{names[1]} cat\nnotes.txt 3\nnolabel\n"
                        f"{names[2]} 4\n")
    assert main(["convert_imageset", f"{root}/", str(listfile), str(tmp_path / "db")]) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "list.txt:2: could not open or find file" in err and "missing.jpg" in err
    assert "list.txt:3: label 'cat' is not an integer" in err
    assert "list.txt:4:" in err and "notes.txt (is not a readable image)" in err
    assert "list.txt:5: expected 'path label'" in err
    assert "Processed 2 files. Skipped 4." in captured.out
    assert [d.label for _, d in _read(tmp_path / "db")] == [1, 4]


def test_check_size_stops_but_keeps_what_was_written(image_folder, tmp_path, capsys):
    root, listfile, names, originals = image_folder
    sizes = [originals[n].shape for n in names]
    first_diff = next(i for i, s in enumerate(sizes) if s != sizes[0])
    assert main(["convert_imageset", "--check_size", f"{root}/", str(listfile), str(tmp_path / "db")]) == 2
    err = capsys.readouterr().err
    assert f"list.txt:{first_diff + 1}" in err and "--check_size" in err
    assert len(_read(tmp_path / "db")) == first_diff                  # committed, readable
    # with resizing every image has the same size
    assert main(["convert_imageset", "--check_size", "--resize_height", "8", "--resize_width", "8",
                 f"{root}/", str(listfile), str(tmp_path / "db")]) == 0
    assert len(_read(tmp_path / "db")) == 8                           # re-run replaces the DB


def test_usage_errors(image_folder, tmp_path):
    root, listfile, _, _ = image_folder
    assert main(["convert_imageset", "--resize_height", "8", f"{root}/", str(listfile), str(tmp_path / "x")]) == 2
    assert main(["convert_imageset", f"{root}/", str(tmp_path / "nolist.txt"), str(tmp_path / "x")]) == 2
