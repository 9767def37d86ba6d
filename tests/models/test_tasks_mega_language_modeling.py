"""mega_language_modeling: block planning (hand cases, and fixed sizes == fairseq's TokenBlockDataset), per-epoch
variable blocks, --valid-block, and the task inside fairseq 0.12 (flags, model chunk, batch iterators)."""

import itertools

import numpy as np
import pytest
import torch
from fairseq import options, tasks
from fairseq.data import Dictionary, TokenBlockDataset, indexed_dataset
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from hypothesis import given, settings
from hypothesis import strategies as st

import mega_plugin  # noqa: F401  (registrations)
from mega_plugin.data.variable_block_dataset import VariableBlockDataset, plan_blocks
from mega_plugin.tasks.mega_language_modeling import MegaLanguageModelingTask, parse_valid_block
from task_helpers import binarize

EOS, PAD = 2, 1


@pytest.mark.parametrize("mode, sizes, limits, expected", [
    # a sentence that does not fit closes the block and opens the next one (with the next size limit);
    # a sentence longer than its block forms a block of its own
    ("complete", [3, 4, 2, 6, 1, 5], [6, 8, 4], [(0, 1), (1, 3), (3, 4), (4, 6)]),
    # sentences of one token separate documents: they close the block and are dropped ...
    ("complete_doc", [3, 4, 1, 2, 6, 1, 1, 5], [8, 4], [(0, 2), (3, 4), (4, 5), (7, 8)]),
    # ... or kept at the end of the block they close
    ("complete_doc_with_boundary", [3, 4, 1, 2, 6, 1, 1, 5], [8, 4], [(0, 3), (3, 4), (4, 6), (7, 8)]),
])
def test_plan_blocks_by_hand(mode, sizes, limits, expected):
    assert plan_blocks(sizes, itertools.cycle(limits), mode) == expected


def test_plan_blocks_rejects_other_modes():
    with pytest.raises(ValueError, match="sample-break-mode"):
        plan_blocks([1, 2], itertools.repeat(4), "none")


def _sentences(sizes):
    """Sentences of the given sizes with distinct token values, each ending with </s> (like binarized text)."""
    counter = itertools.count(4)
    return [torch.tensor([next(counter) for _ in range(size - 1)] + [EOS], dtype=torch.long) for size in sizes]


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=30), chunk=st.integers(1, 5),
       multiple=st.integers(1, 3), mode=st.sampled_from(["complete", "complete_doc"]))
def test_fixed_sizes_equal_fairseq_token_blocks(sizes, chunk, multiple, mode):
    """With min == max multiple, the blocks and items are those of fairseq's TokenBlockDataset(m * C)."""
    sentences = _sentences(sizes)
    ours = VariableBlockDataset(sentences, sizes, chunk, multiple, multiple, EOS, seed=0, break_mode=mode, pad=PAD)
    if mode == "complete_doc" and all(size == 1 for size in sizes):
        assert len(ours) == 0
        return
    reference = TokenBlockDataset(sentences, np.array(sizes), chunk * multiple, pad=PAD, eos=EOS, break_mode=mode,
                                  include_targets=True, document_sep_len=1)
    assert ours.sizes.tolist() == reference.sizes.tolist()
    for index in range(len(ours)):
        (source, target, past), (ref_source, ref_target, ref_past) = ours[index], reference[index]
        assert torch.equal(source, ref_source) and torch.equal(target, ref_target)
        if len(target) > 1:
            assert torch.equal(past, ref_past)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=40), chunk=st.integers(1, 4),
       low=st.integers(1, 3), extra=st.integers(0, 3), seed=st.integers(0, 2**40), epoch=st.integers(1, 5))
def test_variable_blocks_properties(sizes, chunk, low, extra, seed, epoch):
    """Whole sentences in order, nothing lost; a block holds one sentence or at most max*C tokens; it was closed
    only because the next sentence would have passed its limit (>= min*C)."""
    high = low + extra
    dataset = VariableBlockDataset(_sentences(sizes), sizes, chunk, low, high, EOS, seed=seed, pad=PAD)
    dataset.set_epoch(epoch)
    assert dataset.spans[0, 0] == 0 and dataset.spans[-1, 1] == len(sizes)
    assert (dataset.spans[1:, 0] == dataset.spans[:-1, 1]).all()
    assert dataset.sizes.sum() == sum(sizes)
    for (first, end), size in zip(dataset.spans, dataset.sizes):
        assert end - first == 1 or size <= high * chunk
        if end < len(sizes):
            assert size + sizes[end] > low * chunk
    source, target, _ = dataset[0]
    assert source[0] == EOS and torch.equal(source[1:], target[:-1])


def test_block_sizes_are_redrawn_per_epoch_and_reproducible():
    sizes = [3, 5, 2, 7, 4, 4, 6, 1, 3, 5, 2, 8, 3, 3, 4] * 4
    first = VariableBlockDataset(_sentences(sizes), sizes, 4, 1, 4, EOS, seed=11)
    second = VariableBlockDataset(_sentences(sizes), sizes, 4, 1, 4, EOS, seed=11)
    epoch1 = first.sizes.tolist()
    first.set_epoch(2)
    assert first.sizes.tolist() != epoch1 and not first.can_reuse_epoch_itr_across_epochs
    second.set_epoch(2)
    assert second.sizes.tolist() == first.sizes.tolist()
    first.set_epoch(1)
    assert first.sizes.tolist() == epoch1


@pytest.mark.parametrize("kwargs, message", [
    (dict(chunk=0, min_multiple=1, max_multiple=2), "chunked model"),
    (dict(chunk=4, min_multiple=3, max_multiple=2), "min"),
    (dict(chunk=4, min_multiple=1, max_multiple=2, break_mode="none"), "sample-break-mode"),
])
def test_variable_blocks_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VariableBlockDataset(_sentences([2, 3]), [2, 3], eos=EOS, seed=1, **kwargs)


def test_parse_valid_block():
    assert parse_valid_block("size:64", 101) == 64 and parse_valid_block("splits:2", 101) == 51
    assert parse_valid_block("size:100000000", 5) == 100000000
    for bad in ("blocks:3", "size:0", "splits:x", "64"):
        with pytest.raises(ValueError, match="size:N or splits:N"):
            parse_valid_block(bad, 10)


# --- the task inside fairseq ---------------------------------------------------------------------------------

WORDS = [f"w{i}" for i in range(10)]


@pytest.fixture(scope="module")
def lm_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    dictionary = Dictionary()
    for word in WORDS:
        dictionary.add_symbol(word)
    dictionary.save(str(root / "dict.txt"))
    rng = np.random.RandomState(0)
    for split, count in (("train", 60), ("valid", 9)):
        lines = [" ".join(rng.choice(WORDS, rng.randint(1, 9))) for _ in range(count)]
        binarize(lines, dictionary, root / split)
    return root


def _setup(data, *flags, chunk="4"):
    argv = [str(data), "--task", "mega_language_modeling", "--arch", "mega_lm", "--decoder-layers", "1",
            "--decoder-embed-dim", "8", "--decoder-hidden-dim", "16", "--decoder-ffn-embed-dim", "16",
            "--decoder-z-dim", "4", "--decoder-n-dim", "2", "--decoder-chunk-size", chunk,
            "--max-target-positions", "64", "--seed", "3", *flags]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.build_model(cfg.model)
    return task


def _sentence_sizes(lm_data, split):
    dataset = indexed_dataset.MMapIndexedDataset(str(lm_data / split))  # keep it open while reading its sizes
    return dataset.sizes.astype(np.int64).copy()


def _tokens(lm_data, split):
    return int(_sentence_sizes(lm_data, split).sum())


def test_flags_and_defaults(lm_data):
    task = _setup(lm_data)
    assert isinstance(task, MegaLanguageModelingTask) and task.chunk_size == 4
    assert (task.args.variant_block_multiple_min, task.args.variant_block_multiple_max) == (1, 1)
    assert task.args.valid_block == "size:100000000" and task.args.sample_break_mode == "none"


def test_training_blocks_vary_with_the_epoch(lm_data):
    task = _setup(lm_data, "--variant-block-multiple-min", "2", "--variant-block-multiple-max", "4",
                  "--sample-break-mode", "complete")
    dataset = task.load_dataset("train")
    sizes = {}
    for epoch in (1, 2):
        iterator = task.get_batch_iterator(dataset, max_sentences=4, epoch=epoch, seed=1)
        batches = list(iterator.next_epoch_itr(shuffle=False))
        sizes[epoch] = dataset.sizes.tolist()
        assert sum(batch["ntokens"] for batch in batches) == _tokens(lm_data, "train")
        assert all(batch["net_input"]["src_tokens"].size(1) <= 4 * 4 for batch in batches)
    assert sizes[1] != sizes[2]


@pytest.mark.parametrize("flags, block", [
    (["--sample-break-mode", "none"], 4),  # fixed chunk-size blocks
    (["--sample-break-mode", "none", "--variant-block-multiple-max", "3"], 4),  # variable sizes ignored
])
def test_training_blocks_without_sentence_boundaries(lm_data, flags, block):
    dataset = _setup(lm_data, *flags).load_dataset("train")
    total = _tokens(lm_data, "train")
    assert dataset.sizes.tolist() == [block] * (total // block) + ([total % block] if total % block else [])


def test_unchunked_models_use_tokens_per_sample(lm_data):
    dataset = _setup(lm_data, "--tokens-per-sample", "16", chunk="-1").load_dataset("train")
    assert dataset.sizes.max() == 16
    task = _setup(lm_data, "--variant-block-multiple-max", "2", "--sample-break-mode", "complete", chunk="-1")
    with pytest.raises(ValueError, match="chunked Mega LM"):
        task.load_dataset("train")


@pytest.mark.parametrize("valid_block, mode, expected", [
    ("splits:2", "none", lambda total: [(total + 1) // 2, total // 2]),
    ("size:20", "none", lambda total: [20] * (total // 20) + ([total % 20] if total % 20 else [])),
    ("size:100000000", "none", lambda total: [total]),
])
def test_valid_blocks(lm_data, valid_block, mode, expected):
    task = _setup(lm_data, "--valid-block", valid_block, "--sample-break-mode", mode)
    dataset = task.load_dataset("valid")
    total = _tokens(lm_data, "valid")
    assert dataset.sizes.tolist() == expected(total)
    # blocks longer than the model's positions and than --max-tokens are neither dropped nor rejected
    iterator = task.get_batch_iterator(dataset, max_tokens=5, max_positions=3, ignore_invalid_inputs=False)
    batches = list(iterator.next_epoch_itr(shuffle=False))
    assert sum(batch["ntokens"] for batch in batches) == total


def test_valid_blocks_of_whole_sentences(lm_data):
    dataset = _setup(lm_data, "--valid-block", "splits:3", "--sample-break-mode", "complete").load_dataset("valid")
    sentence_ends = set(np.cumsum(_sentence_sizes(lm_data, "valid")).tolist())
    assert set(np.cumsum(dataset.sizes).tolist()) <= sentence_ends
    assert dataset.sizes.sum() == _tokens(lm_data, "valid")
