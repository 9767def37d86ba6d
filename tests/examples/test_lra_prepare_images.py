"""prepare.py for the image tasks: grey conversion, seeded splits and exact pixels/labels for CIFAR-10 (python
pickles, JPEG folders / tar.gz) and Pathfinder / Path-X (official metadata + PNGs, npz). PNG/JPEG decoding needs
Pillow; those tests are skipped without it."""

import pickle
import shutil
import sys
import tarfile

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lra_helpers import FORMATS, read_pixels

import lra_image_sources  # noqa: E402
import prepare  # noqa: E402
from lra_pixels import decode_grey, rgb_to_grey, split_indices  # noqa: E402

CIFAR_JPEG = FORMATS / "cifar10-jpeg"
PATHFINDER = FORMATS / "pathfinder32"


def pathfinder_image(index):
    """The fixture's image ``index`` (see make_fixtures.py): row ``index`` = 20 index + 10, pixel (31, index) = 255."""
    image = np.zeros((32, 32), dtype=np.int64)
    image[index, :] = 20 * index + 10
    image[31, index] = 255
    return image


def reference_split(count, lengths, seed=42):
    """Index lists of torch.utils.data.random_split, what the original data_process.py used."""
    parts = torch.utils.data.random_split(range(count), lengths, generator=torch.Generator().manual_seed(seed))
    return [list(part) for part in parts]


# -- grey conversion and splits --------------------------------------------------------------------------------
@pytest.mark.parametrize("rgb, grey", [((255, 0, 0), 76), ((0, 255, 0), 150), ((0, 0, 255), 29),
                                       ((255, 255, 255), 255), ((0, 0, 0), 0), ((1, 1, 1), 1), ((100, 150, 200), 141),
                                       # PIL's values where (299 R + 587 G + 114 B + 500) // 1000 is off by one
                                       ((2, 20, 133), 27), ((8, 235, 133), 156), ((11, 25, 224), 43)])
def test_luma_of_known_colours(rgb, grey):
    assert rgb_to_grey(np.array([[rgb]], dtype=np.uint8))[0, 0] == grey


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3))))
def test_luma_is_the_rounded_itu_601_formula(rgb):
    exact = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(rgb_to_grey(rgb).astype(np.float64) - exact).max() <= 0.5 + 1e-3


def test_luma_is_bit_identical_to_pil():
    Image = pytest.importorskip("PIL.Image")
    rgb = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    assert np.array_equal(rgb_to_grey(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_original_float_round_trip_keeps_every_byte():
    """The original writes int(ToTensor(x) * 255): in float32 that is x again for all 256 values."""
    values = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(values.to(torch.float32).div(255).mul(255).int(), values.int())


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**31 - 1), st.data())
@pytest.mark.filterwarnings("ignore:Length of split")
def test_split_indices_equal_random_split(count, seed, data):
    first = data.draw(st.integers(0, count))
    second = data.draw(st.integers(0, count - first))
    lengths = (first, second, count - first - second)
    assert split_indices(count, lengths, seed) == reference_split(count, lengths, seed)


def test_split_lengths_must_add_up():
    with pytest.raises(ValueError, match="do not add up"):
        split_indices(10, (5, 4), 0)


# -- CIFAR-10 --------------------------------------------------------------------------------------------------
def _write_cifar_pickles(folder, rng, per_batch=4, test_count=3):
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        count = test_count if name == "test_batch" else per_batch
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, count).tolist()
        with open(folder / name, "wb") as handle:  # the official batches are python-2 pickles with bytes keys
            pickle.dump({b"batch_label": name.encode(), b"data": data, b"labels": labels,
                         b"filenames": [b"x.png"] * count}, handle, protocol=2)
        batches[name] = (data, labels)
    return batches


def _expected_grey(data):
    """Independent grey of rows of 3072 bytes (R, G, B planes): rounded 0.299 R + 0.587 G + 0.114 B."""
    planes = data.reshape(-1, 3, 1024).astype(np.float64)
    return np.floor(0.299 * planes[:, 0] + 0.587 * planes[:, 1] + 0.114 * planes[:, 2] + 0.5).astype(np.int64)


def test_cifar10_from_python_pickles(tmp_path):
    batches = _write_cifar_pickles(tmp_path / "cifar-10-batches-py", np.random.default_rng(0))
    summary = prepare.main(["cifar10", str(tmp_path), str(tmp_path / "out")])  # parent folder is accepted too
    train_data = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"][1]]
    grey = _expected_grey(train_data)
    train_idx, valid_idx = reference_split(20, (18, 2))  # int(20 * 0.9) = 18, as the original
    for split, indices in (("train", train_idx), ("valid", valid_idx)):
        images, labels = read_pixels(tmp_path / "out", split)
        assert labels == [train_labels[i] for i in indices]
        assert np.abs(np.array(images) - grey[indices]).max() <= 1  # float formula vs fixed point: ties only
    images, labels = read_pixels(tmp_path / "out", "test")
    assert labels == batches["test_batch"][1]
    assert np.abs(np.array(images) - _expected_grey(batches["test_batch"][0])).max() <= 1
    assert summary["examples"] == {"train": 18, "valid": 2, "test": 3} and summary["pixels"] == 1024


def test_cifar10_pickles_match_pil_grey_exactly(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    batches = _write_cifar_pickles(tmp_path / "cifar-10-batches-py", np.random.default_rng(1), 1, 2)
    prepare.main(["cifar10", str(tmp_path / "cifar-10-batches-py"), str(tmp_path / "out")])
    images, _ = read_pixels(tmp_path / "out", "test")
    for row, data in zip(images, batches["test_batch"][0]):
        rgb = data.reshape(3, 32, 32).transpose(1, 2, 0)
        assert row == np.asarray(Image.fromarray(rgb).convert("L")).reshape(-1).tolist()


def _check_cifar_jpeg_output(out):
    colours = {0: (200, 30, 30), 3: (30, 200, 30), 9: (30, 30, 200)}  # airplane, cat, truck (CIFAR label order)
    seen = []
    for split in ("train", "valid"):
        images, labels = read_pixels(out, split)
        for row, label in zip(images, labels):
            luma = 0.299 * colours[label][0] + 0.587 * colours[label][1] + 0.114 * colours[label][2]
            assert len(row) == 1024 and max(abs(v - luma) for v in row) <= 3  # uniform image through JPEG
            seen.append(label)
    assert sorted(seen) == [0, 3, 9] and len(read_pixels(out, "valid")[1]) == 1  # 3 images: int(2.7) = 2 / 1
    # train/valid order: the seeded permutation of the (class, file) order
    train_idx, valid_idx = reference_split(3, (2, 1))
    assert read_pixels(out, "train")[1] + read_pixels(out, "valid")[1] == [[0, 3, 9][i] for i in train_idx + valid_idx]
    images, labels = read_pixels(out, "test")
    assert labels == [3] and max(abs(v - 128) for v in images[0]) <= 2


def test_cifar10_from_jpeg_class_folders(tmp_path):
    pytest.importorskip("PIL")
    prepare.main(["cifar10", str(CIFAR_JPEG), str(tmp_path / "out")])
    _check_cifar_jpeg_output(tmp_path / "out")


def test_cifar10_from_jpeg_tar_archives_matches_folders(tmp_path):
    pytest.importorskip("PIL")
    for split in ("train", "test"):
        with tarfile.open(tmp_path / f"{split}.tar.gz", "w:gz") as archive:
            archive.add(CIFAR_JPEG / split, arcname=split)
    prepare.main(["cifar10", str(tmp_path), str(tmp_path / "tar")])
    prepare.main(["cifar10", str(CIFAR_JPEG), str(tmp_path / "folders")])
    for split in ("train", "valid", "test"):
        assert read_pixels(tmp_path / "tar", split) == read_pixels(tmp_path / "folders", split)


def test_cifar10_missing_batch_is_named(tmp_path, capsys):
    _write_cifar_pickles(tmp_path / "c", np.random.default_rng(2), 1, 1)
    (tmp_path / "c" / "test_batch").unlink()
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(["cifar10", str(tmp_path / "c"), str(tmp_path / "out")])
    assert exit_info.value.code == 2 and "test_batch" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="expected cifar-10-batches-py"):
        prepare.prepare("cifar10", tmp_path / "empty", tmp_path / "out2")


def test_cifar10_unknown_class_folder(tmp_path):
    pytest.importorskip("PIL")
    shutil.copytree(CIFAR_JPEG, tmp_path / "jpeg")
    (tmp_path / "jpeg" / "train" / "cat").rename(tmp_path / "jpeg" / "train" / "kitten")
    with pytest.raises(ValueError, match="kitten"):
        prepare.prepare("cifar10", tmp_path / "jpeg", tmp_path / "out")


# -- Pathfinder / Path-X ---------------------------------------------------------------------------------------
def test_pathfinder_from_official_metadata_and_pngs(tmp_path):
    pytest.importorskip("PIL")
    summary = prepare.main(["pathfinder", str(PATHFINDER), str(tmp_path / "out")])
    # 10 images: valid = test = int(0.1 * 10) = 1, train 8; metadata files in integer order (2.npy before 10.npy)
    for split, indices in zip(("train", "valid", "test"), reference_split(10, (8, 1, 1))):
        images, labels = read_pixels(tmp_path / "out", split)
        assert images == [pathfinder_image(i).reshape(-1).tolist() for i in indices]
        assert labels == [i % 2 for i in indices]
    assert summary["examples"] == {"train": 8, "valid": 1, "test": 1}
    # the lra_release root works as source too, and another seed gives another split
    prepare.main(["pathfinder", str(FORMATS), str(tmp_path / "root")])
    assert read_pixels(tmp_path / "root", "train") == read_pixels(tmp_path / "out", "train")
    prepare.main(["pathfinder", str(PATHFINDER), str(tmp_path / "seed1"), "--seed", "1"])
    assert read_pixels(tmp_path / "seed1", "train")[0] == [
        pathfinder_image(i).reshape(-1).tolist() for i in reference_split(10, (8, 1, 1), seed=1)[0]]


def test_pathfinder_blacklist_skips_the_empty_release_file():
    samples = lra_image_sources.pathfinder_samples(PATHFINDER, 32, "curv_baseline")
    assert samples == [("curv_baseline/imgs/0/sample_1.png", 0)]
    # the blacklist names the 32x32 set only
    assert len(lra_image_sources.pathfinder_samples(PATHFINDER, 128, "curv_baseline")) == 2


def test_pathfinder_empty_or_missing_image_is_named(tmp_path):
    pytest.importorskip("PIL")  # the images before the broken one are decoded first
    shutil.copytree(PATHFINDER, tmp_path / "pathfinder32")
    images = tmp_path / "pathfinder32" / "curv_contour_length_14" / "imgs"
    (images / "10" / "sample_3.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty: .*sample_3.png"):
        prepare.prepare("pathfinder", tmp_path / "pathfinder32", tmp_path / "out")
    (images / "10" / "sample_3.png").unlink()
    with pytest.raises(FileNotFoundError, match="sample_3.png"):
        prepare.prepare("pathfinder", tmp_path / "pathfinder32", tmp_path / "out")
    shutil.rmtree(tmp_path / "pathfinder32" / "curv_contour_length_14" / "metadata")
    with pytest.raises(FileNotFoundError, match="curv_contour_length_14"):
        prepare.prepare("pathfinder", tmp_path / "pathfinder32", tmp_path / "out")


def test_pathfinder_wrong_resolution_is_reported(tmp_path):
    pytest.importorskip("PIL")
    with pytest.raises(FileNotFoundError, match="no Pathfinder-128 data"):
        prepare.prepare("pathx", FORMATS / "aclImdb", tmp_path / "out")
    with pytest.raises(ValueError, match="expected 128x128"):
        prepare.prepare("pathx", PATHFINDER, tmp_path / "out")  # 32x32 images
    with pytest.raises(ValueError, match="expected 64x64"):
        prepare.prepare("pathfinder", PATHFINDER, tmp_path / "out", resolution=64)


def _write_npz(folder, resolution, counts, rng):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for stem, count in counts.items():
        images = rng.integers(0, 256, (count, resolution, resolution), dtype=np.uint8)
        labels = rng.integers(0, 2, count).astype(np.uint8)
        np.savez(folder / f"{stem}.npz", images=images, labels=labels)
        arrays[stem] = (images, labels)
    return arrays


@pytest.mark.parametrize("task, resolution", [("pathfinder", 32), ("pathx", 128)])
def test_pathfinder_npz_keeps_its_splits(tmp_path, task, resolution):
    arrays = _write_npz(tmp_path / "npz", resolution, {"train": 5, "val": 2, "test": 3}, np.random.default_rng(3))
    prepare.main([task, str(tmp_path / "npz"), str(tmp_path / "out"), "--limit", "4"])
    for split, stem in (("train", "train"), ("valid", "val"), ("test", "test")):
        images, labels = read_pixels(tmp_path / "out", split)
        expected_images, expected_labels = arrays[stem]
        assert images == expected_images[:4].reshape(len(images), -1).tolist()
        assert labels == expected_labels[:4].tolist()
    _write_npz(tmp_path / "bad", 16, {"train": 1, "val": 1, "test": 1}, np.random.default_rng(4))
    with pytest.raises(ValueError, match=f"images \\[N, {resolution}, {resolution}\\]"):
        prepare.prepare(task, tmp_path / "bad", tmp_path / "out2")


def test_decoding_without_pillow_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        decode_grey(b"\x89PNG...", "x.png")
