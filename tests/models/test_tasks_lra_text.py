"""lra-text: flags and defaults of the original, dictionaries (with <CLS>), exact batches, shuffling, and the
original fixture's batch rebuilt from its data through fairseq-preprocess and an original checkpoint's args."""

import logging

import numpy as np
import pytest
import torch
from fairseq import options, tasks
from fairseq.data import Dictionary, data_utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

import mega_plugin  # noqa: F401  (registrations)
from fixture_utils import ORIGINAL
from mega_plugin.tasks.lra_text import LRATextTask
from task_helpers import batch_of, binarize, flag_defaults, parse_task_args
from fairseq_cli import preprocess

CASE = ORIGINAL / "lra_text" / "chunk8"


def make_data(root, with_src1=False, with_labels=True):
    """Words a, b, c (ids 4, 5, 6; <CLS> becomes 7) and labels neg, pos (ids 4, 5 -> classes 0, 1)."""
    source = Dictionary()
    for word in "abc":
        source.add_symbol(word)
    labels = Dictionary()
    for word in ("neg", "pos"):
        labels.add_symbol(word)
    folders = {"src-bin": (source, ["a b c", "c", "b b"])}
    if with_src1:
        folders["src1-bin"] = (source, ["c c c c c", "a", "b"])
    if with_labels:
        folders["label-bin"] = (labels, ["pos", "neg", "pos"])
    for folder, (dictionary, lines) in folders.items():
        (root / folder).mkdir(parents=True)
        dictionary.save(str(root / folder / "dict.txt"))
        binarize(lines, dictionary, root / folder / "test")
    if not with_labels:
        (root / "label-bin").mkdir()
        labels.save(str(root / "label-bin" / "dict.txt"))
    return root


def fairseq_preprocess(*argv):
    """``fairseq-preprocess ARGV`` in this process (a subprocess would spend most of its time importing)."""
    logger = logging.getLogger(preprocess.__name__)
    handlers = list(logger.handlers)
    try:
        preprocess.main(options.get_preprocessing_parser().parse_args([str(arg) for arg in argv]))
    finally:
        for handler in set(logger.handlers) - set(handlers):  # it adds a log file handler on every call
            logger.removeHandler(handler)
            handler.close()


def task_args(data, **values):
    return parse_task_args(LRATextTask, data, **{"seed": 1, "dataset_impl": None, **values})


def test_flags_and_defaults_match_the_original_args():
    """Every task flag exists under the original name with the default the original run stored."""
    original = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    defaults = flag_defaults(LRATextTask)
    assert set(defaults) == {"num_classes", "init_token", "separator_token", "regression_target", "no_shuffle",
                             "shorten_method", "shorten_data_split_list"}
    assert {key: getattr(original, key) for key in defaults} == defaults


def test_dictionary_gets_cls_and_labels(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path), max_positions=8, sen_rep_type="mp"))
    assert len(task.source_dictionary) == 8 and task.source_dictionary[7] == "<CLS>" and task.cls_idx == 7
    assert task.target_dictionary is task.source_dictionary
    assert len(task.label_dictionary) == 6 and task.label_dictionary.index("pos") == 5
    assert task.max_positions() == 8 and task.args.tokens_per_sample == 8


def test_mean_pooling_batch(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path), max_positions=8, sen_rep_type="mp",
                                            no_shuffle=True))
    batch = batch_of(task)
    assert torch.equal(batch["net_input"]["src_tokens"], torch.tensor([[4, 5, 6, 2], [6, 2, 1, 1], [5, 5, 2, 1]]))
    assert batch["net_input"]["src_lengths"].tolist() == [4, 2, 3]
    assert batch["ntokens"] == 9 and batch["nsentences"] == 3
    assert torch.equal(batch["target"], torch.tensor([[1], [0], [1]]))
    assert batch["id"].tolist() == [0, 1, 2] and "net_input1" not in batch


def test_cls_is_prepended_before_truncation(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path), max_positions=4, sen_rep_type="cls",
                                            no_shuffle=True))
    batch = batch_of(task)
    assert torch.equal(batch["net_input"]["src_tokens"], torch.tensor([[7, 4, 5, 6], [7, 6, 2, 1], [7, 5, 5, 2]]))
    assert batch["net_input"]["src_lengths"].tolist() == [4, 3, 4] and batch["ntokens"] == 11


def test_second_document_for_retrieval(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path, with_src1=True), max_positions=3,
                                            sen_rep_type="mp", no_shuffle=True))
    batch = batch_of(task)
    assert torch.equal(batch["net_input1"]["src_tokens"], torch.tensor([[6, 6, 6], [4, 2, 1], [5, 2, 1]]))
    assert batch["net_input1"]["src_lengths"].tolist() == [3, 2, 2]
    assert batch["ntokens"] == 3 + 2 + 3  # first document only


def test_shuffled_order_follows_the_seed(tmp_path):
    data = make_data(tmp_path)
    for seed in (1, 2, 3):
        task = LRATextTask.setup_task(task_args(data, max_positions=8, sen_rep_type="mp", seed=seed))
        with data_utils.numpy_seed(seed):
            permutation = np.random.permutation(3)
        assert task.load_dataset("test").ordered_indices().tolist() == np.argsort(permutation).tolist()
    unshuffled = LRATextTask.setup_task(task_args(data, max_positions=8, sen_rep_type="mp", no_shuffle=True))
    assert unshuffled.load_dataset("test").ordered_indices().tolist() == [0, 1, 2]


def test_without_max_positions_nothing_is_cut(tmp_path):
    args = task_args(make_data(tmp_path), no_shuffle=True)
    task = LRATextTask.setup_task(args)
    assert task.max_positions() is None and task.prepend_cls is False
    assert batch_of(task)["net_input"]["src_lengths"].tolist() == [4, 2, 3]


def test_regression_target_uses_the_token_dictionary(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path), max_positions=8, regression_target=True))
    assert task.label_dictionary is task.source_dictionary


def test_labels_are_optional(tmp_path):
    task = LRATextTask.setup_task(task_args(make_data(tmp_path, with_labels=False), max_positions=8,
                                            no_shuffle=True))
    assert "target" not in batch_of(task)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="lra-text dictionary"):
        LRATextTask.setup_task(task_args(tmp_path))
    task = LRATextTask.setup_task(task_args(make_data(tmp_path / "data"), max_positions=8))
    with pytest.raises(FileNotFoundError, match="lra-text split 'valid'"):
        task.load_dataset("valid")


def _original_task(data_dir):
    """Set up the task the way fairseq 0.12 does when it loads an original checkpoint."""
    args = torch.load(CASE / "checkpoint_last.pt", weights_only=False)["args"]
    args.data = str(data_dir)
    cfg = convert_namespace_to_omegaconf(args)
    return tasks.setup_task(cfg.task)


def test_original_args_set_up_the_task_with_the_checkpoint_vocabulary(tmp_path):
    for folder, name in (("src-bin", "src-bin.dict.txt"), ("label-bin", "label-bin.dict.txt")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "dict.txt").write_text((CASE / name).read_text())
    task = _original_task(tmp_path)
    assert isinstance(task, LRATextTask) and task.max_positions() == 64 and not task.prepend_cls
    rows = next(line for line in (CASE / "keys.txt").read_text().splitlines() if "embed_tokens" in line)
    assert len(task.source_dictionary) == 25 == int(rows.split("\t")[1].strip("[]() ").split(",")[0])
    assert len(task.label_dictionary) == 4 + 10


def test_reproduces_the_original_fixture_batch(tmp_path):
    """Text of the fixture's batch, binarized by fairseq-preprocess with the original dictionaries, comes out of
    the task as the original task's batch (same ids, padding, lengths with </s>, class targets)."""
    inputs = torch.load(CASE / "inputs.pt", weights_only=True)
    source, labels = Dictionary.load(str(CASE / "src-bin.dict.txt")), Dictionary.load(str(CASE / "label-bin.dict.txt"))
    order = inputs["id"].argsort()  # write the examples at their original dataset indices
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [row[row.ne(source.pad())][:-1] for row in inputs["src_tokens"][order]]  # strip pads and </s>
    (raw / "test.src").write_text("\n".join(source.string(row) for row in rows) + "\n")
    targets = inputs["target"].view(-1)[order]
    (raw / "test.label").write_text("\n".join(labels[int(t) + labels.nspecial] for t in targets) + "\n")
    for kind, folder, name in (("src", "src-bin", "src-bin.dict.txt"), ("label", "label-bin", "label-bin.dict.txt")):
        fairseq_preprocess("--only-source", "--testpref", raw / f"test.{kind}", "--srcdict", CASE / name,
                           "--destdir", tmp_path / folder, "--workers", "1")
    task = _original_task(tmp_path)
    dataset = task.load_dataset("test")
    position = {int(i): p for p, i in enumerate(inputs["id"][order])}
    batch = dataset.collater([dataset[position[int(i)]] for i in inputs["id"]])
    assert torch.equal(batch["net_input"]["src_tokens"], inputs["src_tokens"])
    assert torch.equal(batch["net_input"]["src_lengths"], inputs["src_lengths"])
    assert torch.equal(batch["target"], inputs["target"])
