"""lra_cross_entropy values, and the LRA / speech-commands tasks' datasets and batches."""

import math
from argparse import Namespace

import pytest
import torch
from fairseq import metrics

from mega_plugin.criterions.lra_cross_entropy import LRACrossEntropyCriterion
from mega_plugin.tasks.lra_image import LRAImageTask
from mega_plugin.tasks.speech_commands import SpeechCommandsTask
from plugin_utils import ORIGINAL, run_cli


class _FixedModel(torch.nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, sample):
        return {"encoder_out": self.logits}


def test_lra_cross_entropy_loss_and_accuracy():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.5], [1.0, 1.0, 3.0]])
    target = torch.tensor([0, 2, 2, 1])
    sample = {"target": target, "ntokens": 40}
    criterion = LRACrossEntropyCriterion(task=None, sentence_avg=True)
    loss, sample_size, log = criterion(_FixedModel(logits), sample)
    expected = -torch.log_softmax(logits, -1)[torch.arange(4), target].sum()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert sample_size == 4 and log["ncorrects"] == 2 and log["nsentences"] == 4
    with metrics.aggregate() as aggregated:
        LRACrossEntropyCriterion.reduce_metrics([log, log])
    values = aggregated.get_smoothed_values()
    assert values["loss"] == pytest.approx(expected.item() / 4 / math.log(2), abs=1e-3)
    assert values["accuracy"] == pytest.approx(50.0)
    assert LRACrossEntropyCriterion(task=None, sentence_avg=False)(_FixedModel(logits), sample)[1] == 40


def _args(data, **extra):
    base = dict(data=str(data), no_shuffle=True, seed=1, max_positions=None, pixel_normalization=[0.5, 0.25],
                sc_all_classes=False, sc_dropped_rate=0.0, mfcc=False)
    base.update(extra)
    return Namespace(**base)


def test_lra_image_batches(tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "label").mkdir()
    (tmp_path / "input" / "test.src").write_text("0 255 51\n102 0 255\n")
    (tmp_path / "label" / "test.label").write_text("3\n7\n")
    task = LRAImageTask.setup_task(_args(tmp_path))
    dataset = task.load_dataset("test")
    batch = dataset.collater([dataset[0], dataset[1]])
    expected = (torch.tensor([[0, 255, 51], [102, 0, 255]]) / 255.0 - 0.5) / 0.25
    assert torch.allclose(batch["net_input"]["src_tokens"], expected)
    assert batch["net_input"]["src_lengths"].tolist() == [3, 3]
    assert batch["target"].tolist() == [3, 7]
    assert batch["ntokens"] == 6


def test_lra_image_missing_split(tmp_path):
    (tmp_path / "input").mkdir()
    task = LRAImageTask.setup_task(_args(tmp_path))
    with pytest.raises(FileNotFoundError, match="lra-image split 'valid'"):
        task.load_dataset("valid")


def test_speech_commands_batches_and_missing_data(tmp_path):
    raw = tmp_path / "processed_data" / "raw"
    raw.mkdir(parents=True)
    x = torch.randn(3, 1, 16000)
    torch.save(x, raw / "val_X.pt")
    torch.save(torch.tensor([4, 1, 9]), raw / "val_y.pt")
    task = SpeechCommandsTask.setup_task(_args(tmp_path))
    dataset = task.load_dataset("valid")
    batch = dataset.collater([dataset[i] for i in range(3)])
    assert torch.equal(batch["net_input"]["src_tokens"], x[:, 0])
    assert batch["net_input"]["src_lengths"].tolist() == [16000] * 3
    assert batch["target"].tolist() == [4, 1, 9] and batch["ntokens"] == 48000
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        task.load_dataset("train")


def test_lra_text_reproduces_the_original_batch(tmp_path):
    """Rebuild the original fixture's data layout; the task yields its recorded batch and dictionary size."""
    from fairseq.data import Dictionary

    from plugin_utils import load_original

    case = ORIGINAL / "lra_text" / "chunk8"
    inputs = torch.load(case / "inputs.pt")
    src_dict = Dictionary.load(str(case / "src-bin.dict.txt"))
    label_dict = Dictionary.load(str(case / "label-bin.dict.txt"))
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [src_dict.string(row[row.ne(1)][:-1]) for row in inputs["src_tokens"]]  # strip pads and </s>
    (raw / "test.src").write_text("\n".join(rows) + "\n")
    (raw / "test.label").write_text("\n".join(str(int(t)) for t in inputs["target"].view(-1)) + "\n")
    for kind, folder, dictionary in (("src", "src-bin", "src-bin.dict.txt"), ("label", "label-bin", "label-bin.dict.txt")):
        run_cli("preprocess", "--only-source", "--testpref", raw / f"test.{kind}", "--srcdict", case / dictionary,
                "--destdir", tmp_path / folder, "--workers", "1")
    model, cfg, task = load_original("lra_text/chunk8", tmp_path, {})
    assert len(task.source_dictionary) == model.encoder.encoder.embed_tokens.embed.weight.size(0)
    task.args.no_shuffle = True
    dataset = task.load_dataset("test")
    batch = dataset.collater([dataset[i] for i in range(len(rows))])
    assert torch.equal(batch["net_input"]["src_tokens"], inputs["src_tokens"])
    assert torch.equal(batch["net_input"]["src_lengths"], inputs["src_lengths"])
    assert batch["target"].view(-1).tolist() == inputs["target"].view(-1).tolist()
