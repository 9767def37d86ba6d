"""speech_commands: flags of the original, data folder variants, exact batches (also the original fixture's),
stored order, and the error for missing data."""


import pytest
import torch
from fairseq import tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

import mega_plugin  # noqa: F401  (registrations)
from fixture_utils import ORIGINAL
from mega_plugin.data.speech_commands_dataset import SpeechCommandsDataset, variant_name
from mega_plugin.tasks.speech_commands import SpeechCommandsTask
from task_helpers import flag_defaults, parse_task_args

CASE = ORIGINAL / "sc_raw"


def task_args(data, **values):
    return parse_task_args(SpeechCommandsTask, data, **{"seed": 1, "max_positions": 16000, **values})


def save_split(root, variant, split, inputs, labels):
    folder = root / "processed_data" / variant
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(inputs, folder / f"{split}_X.pt")
    torch.save(labels, folder / f"{split}_y.pt")


def test_flags_and_defaults_match_the_original_args():
    original = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    defaults = flag_defaults(SpeechCommandsTask)
    assert set(defaults) == {"num_classes", "regression_target", "no_shuffle", "shorten_method",
                             "shorten_data_split_list", "sc_all_classes", "sc_dropped_rate", "mfcc"}
    assert {key: getattr(original, key) for key in defaults} == defaults


@pytest.mark.parametrize("mfcc, rate, all_classes, name", [
    (False, 0.0, False, "raw"),
    (False, 50.0, False, "raw_dropped50.0"),
    (False, 0.0, True, "raw_all_classes"),
    (True, 0.0, False, "mfcc"),
    (True, 50.0, True, "mfcc_all_classes"),  # the dropped-rate suffix is for raw audio only
])
def test_variant_folders(mfcc, rate, all_classes, name):
    assert variant_name(mfcc, rate, all_classes) == name


def test_batch_layout_and_stored_order(tmp_path):
    inputs = torch.arange(3 * 5, dtype=torch.float32).view(3, 1, 5)
    save_split(tmp_path, "raw", "val", inputs, torch.tensor([4, 1, 9]))
    task = SpeechCommandsTask.setup_task(task_args(tmp_path))
    dataset = task.load_dataset("valid")
    assert dataset.ordered_indices().tolist() == [0, 1, 2]  # no reshuffling, as the original
    assert dataset[1]["source"].shape == (5, 1)
    batch = dataset.collater([dataset[2], dataset[0]])
    assert torch.equal(batch["net_input"]["src_tokens"], torch.tensor([[10.0, 11, 12, 13, 14], [0, 1, 2, 3, 4]]))
    assert batch["net_input"]["src_lengths"].tolist() == [5, 5]
    assert batch["id"].tolist() == [2, 0] and batch["target"].tolist() == [9, 4]
    assert batch["ntokens"] == 10 and batch["nsentences"] == 2
    assert dataset.collater([]) == {}


def test_two_channel_variant_keeps_both_channels(tmp_path):
    """``raw_dropped<rate>`` stores the audio and a mask channel: batches are ``[B, L, 2]``."""
    inputs = torch.randn(2, 2, 7)
    save_split(tmp_path, "raw_dropped30.0", "train", inputs, torch.tensor([0, 1]))
    task = SpeechCommandsTask.setup_task(task_args(tmp_path, sc_dropped_rate=30.0))
    dataset = task.load_dataset("train")
    batch = dataset.collater([dataset[0], dataset[1]])
    assert torch.equal(batch["net_input"]["src_tokens"], inputs.transpose(1, 2))
    assert batch["net_input"]["src_lengths"].tolist() == [7, 7]


def test_missing_data_and_bad_tensors(tmp_path):
    task = SpeechCommandsTask.setup_task(task_args(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"processed_data/<variant>/\{train,val,test\}_\{X,y\}\.pt"):
        task.load_dataset("train")
    with pytest.raises(ValueError, match="splits train, valid and test"):
        task.load_dataset("dev")
    with pytest.raises(ValueError, match=r"expected X \[N, channels, length\]"):
        SpeechCommandsDataset(torch.zeros(3, 16000), torch.zeros(3))


def test_reproduces_the_original_fixture_batch(tmp_path):
    """Waveforms stored as the original preprocessing does ([N, 1, 16000]); a task set up from the original
    checkpoint's args (fairseq 0.12 conversion) collates exactly the original batch."""
    inputs = torch.load(CASE / "inputs.pt", weights_only=True)
    assert inputs["id"].tolist() == [0, 1]
    save_split(tmp_path, "raw", "test", inputs["src_tokens"].unsqueeze(1), inputs["target"])
    args = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    args.data = str(tmp_path)
    task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    assert isinstance(task, SpeechCommandsTask) and task.max_positions() == 16000
    dataset = task.load_dataset("test")
    batch = dataset.collater([dataset[0], dataset[1]])
    for key in ("src_tokens", "src_lengths"):
        assert torch.equal(batch["net_input"][key], inputs[key])
    assert torch.equal(batch["target"], inputs["target"]) and torch.equal(batch["id"], inputs["id"])
    assert batch["ntokens"] == 32000
