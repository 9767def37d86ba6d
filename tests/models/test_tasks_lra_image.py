"""lra-image: flags of the original, the pixel normalisation (bit-exact against the original fixture batch),
truncation, optional labels, shuffling and bad input."""

import shutil

import numpy as np
import pytest
import torch
from fairseq import tasks
from fairseq.data import data_utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from hypothesis import given, settings
from hypothesis import strategies as st

import mega_plugin  # noqa: F401  (registrations)
from fixture_utils import ORIGINAL
from mega_plugin.data.pixel_sequence_dataset import PixelSequenceDataset
from mega_plugin.tasks.lra_image import LRAImageTask
from task_helpers import batch_of, flag_defaults, parse_task_args

CASE = ORIGINAL / "lra_image"


def make_data(root, images, labels=None, split="test"):
    (root / "input").mkdir(parents=True, exist_ok=True)
    (root / "input" / f"{split}.src").write_text("".join(" ".join(map(str, row)) + "\n" for row in images))
    if labels is not None:
        (root / "label").mkdir(exist_ok=True)
        (root / "label" / f"{split}.label").write_text("".join(f"{label}\n" for label in labels))
    return root


def task_args(data, **values):
    return parse_task_args(LRAImageTask, data, **{"seed": 1, "max_positions": None, **values})


def test_flags_and_defaults_match_the_original_args():
    original = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    defaults = flag_defaults(LRAImageTask)
    assert set(defaults) == {"num_classes", "regression_target", "no_shuffle", "shorten_method",
                             "shorten_data_split_list", "pixel_normalization"}
    given_on_the_command_line = {"pixel_normalization"}
    assert all(getattr(original, key) == value for key, value in defaults.items()
               if key not in given_on_the_command_line)
    parsed = parse_task_args(LRAImageTask, "d", "--pixel-normalization", "0.48", "0.24")
    assert parsed.pixel_normalization == [0.48, 0.24]


def test_batch_values(tmp_path):
    data = make_data(tmp_path, [[0, 255, 51], [102, 0, 255]], labels=[3, 7])
    task = LRAImageTask.setup_task(task_args(data, pixel_normalization=[0.5, 0.25], no_shuffle=True))
    batch = batch_of(task)
    expected = torch.tensor([[-2.0, 2.0, -1.2], [-0.4, -2.0, 2.0]])  # (v / 255 - 0.5) / 0.25
    assert batch["net_input"]["src_tokens"].dtype == torch.float32
    assert torch.allclose(batch["net_input"]["src_tokens"], expected, atol=1e-6)
    assert batch["net_input"]["src_lengths"].tolist() == [3, 3]
    assert batch["target"].tolist() == [3, 7] and batch["ntokens"] == 6 and batch["nsentences"] == 2


def test_default_normalisation_and_truncation(tmp_path):
    data = make_data(tmp_path, [[0, 255, 51, 9], [255, 0, 255, 9]], labels=[0, 1])
    task = LRAImageTask.setup_task(task_args(data, max_positions=2, no_shuffle=True))
    assert task.normalization == (0.5, 0.5) and task.max_positions() == 2
    batch = batch_of(task)
    assert torch.equal(batch["net_input"]["src_tokens"], torch.tensor([[-1.0, 1.0], [1.0, -1.0]]))
    assert batch["net_input"]["src_lengths"].tolist() == [2, 2] and batch["ntokens"] == 4


def test_labels_are_optional(tmp_path):
    task = LRAImageTask.setup_task(task_args(make_data(tmp_path, [[1, 2], [3, 4]]), no_shuffle=True))
    assert "target" not in batch_of(task)


def test_shuffled_order_follows_the_seed(tmp_path):
    data = make_data(tmp_path, [[i, i] for i in range(6)], labels=range(6))
    task = LRAImageTask.setup_task(task_args(data, seed=7))
    with data_utils.numpy_seed(7):
        permutation = np.random.permutation(6)
    assert task.load_dataset("test").ordered_indices().tolist() == np.argsort(permutation).tolist()


@pytest.mark.parametrize("images, labels, error, message", [
    ([[1, 2], [3]], [0, 1], ValueError, "one length"),
    ([[1, 256]], [0], ValueError, "0..255"),
    ([[1, 2]], [0, 1], ValueError, "2 labels for 1 images"),
])
def test_bad_data(tmp_path, images, labels, error, message):
    task = LRAImageTask.setup_task(task_args(make_data(tmp_path, images, labels), no_shuffle=True))
    with pytest.raises(error, match=message):
        batch_of(task)


def test_bad_settings_and_missing_split(tmp_path):
    with pytest.raises(ValueError, match="two values"):
        LRAImageTask.setup_task(task_args(tmp_path, pixel_normalization=[0.5, 0.5, 0.5]))
    task = LRAImageTask.setup_task(task_args(make_data(tmp_path, [[1, 2]])))
    with pytest.raises(FileNotFoundError, match="lra-image split 'valid'"):
        task.load_dataset("valid")


@settings(max_examples=30, deadline=None)
@given(pixels=st.lists(st.integers(0, 255), min_size=1, max_size=40), mean=st.floats(0.0, 1.0),
       std=st.floats(0.05, 2.0))
def test_matches_float32_formula(tmp_path_factory, pixels, mean, std):
    path = make_data(tmp_path_factory.mktemp("px"), [pixels]) / "input" / "test.src"
    item = PixelSequenceDataset(path, mean, std)[0]
    expected = torch.tensor(pixels, dtype=torch.float32).div(255.0).sub(mean).div(std)
    assert torch.equal(item, expected)


def test_reproduces_the_original_fixture_batch(tmp_path):
    """The fixture's test images through a task set up from the original checkpoint's args (fairseq 0.12
    conversion): the same float32 pixels, bit for bit, lengths and targets as the original task's batch."""
    make_data(tmp_path, [])
    shutil.copy(CASE / "test.src", tmp_path / "input" / "test.src")
    (tmp_path / "label").mkdir()
    shutil.copy(CASE / "test.label", tmp_path / "label" / "test.label")
    args = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    args.data = str(tmp_path)
    task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    assert task.normalization == (0.48, 0.24) and task.max_positions() == 64
    dataset = task.load_dataset("test")
    inputs = torch.load(CASE / "inputs.pt", weights_only=True)
    batch = dataset.collater([dataset[int(i)] for i in inputs["id"]])
    assert torch.equal(batch["net_input"]["src_tokens"], inputs["src_tokens"])
    assert torch.equal(batch["net_input"]["src_lengths"], inputs["src_lengths"])
    assert torch.equal(batch["target"], inputs["target"])
    assert torch.equal(batch["id"], inputs["id"])
