"""fairseq-fixed's batch_by_size dropped the last batch (and overfilled fixed shapes); with the plugin imported no
sample is lost and every limit holds."""

import argparse

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mega_plugin.compat import batching
from fairseq.data import data_utils


def reference_batches(lengths, max_tokens, max_sentences, multiple):
    """fairseq 0.12's batching rule, written plainly: grow a batch, remember the last size that was a multiple of
    ``multiple`` (or below it); on overflow close the batch there and restart from the leftover tail."""
    batches, start, committed, pos = [], 0, 0, 0

    def overflows(first, last):  # would samples first..last (inclusive) break a limit?
        count, longest = last - first + 1, max(lengths[first:last + 1])
        return (max_sentences is not None and count > max_sentences) or (
            max_tokens is not None and count * longest > max_tokens)

    for pos in range(len(lengths)):
        if overflows(start, pos):
            batches.append(list(range(start, committed)))
            if overflows(committed, pos):  # the leftover tail plus this sample is too big: tail alone
                batches.append(list(range(committed, pos)))
                committed = pos
            start = committed
        size = pos + 1 - start
        if size < multiple or size % multiple == 0:
            committed = pos + 1
    batches += [list(range(start, committed)), list(range(committed, len(lengths)))]
    return [b for b in batches if b]


def test_repro_five_sentences_batch_of_five():
    batches = data_utils.batch_by_size(
        np.arange(5), lambda i: 10, max_tokens=None, max_sentences=5, required_batch_size_multiple=8
    )
    assert [list(b) for b in batches] == [[0, 1, 2, 3, 4]]


def test_patch_was_needed_and_applied():
    assert batching.installed_is_broken()  # fairseq-fixed 0.12.3.x: the repro above fails without the patch
    assert data_utils.batch_by_size is batching.batch_by_size


def test_last_partial_batch_is_kept_and_larger_batches_are_multiples():
    batches = data_utils.batch_by_size(np.arange(21), lambda i: 3, max_sentences=10, required_batch_size_multiple=4)
    assert [len(b) for b in batches] == [8, 8, 4, 1]
    assert data_utils.batch_by_size(np.arange(0), lambda i: 3, required_batch_size_multiple=8) == []


lengths_strategy = st.lists(st.integers(1, 50), min_size=1, max_size=60)


@settings(max_examples=80, deadline=None)
@given(lengths_strategy, st.one_of(st.none(), st.integers(50, 300)), st.one_of(st.none(), st.integers(1, 20)),
       st.sampled_from([1, 2, 3, 8]), st.booleans(), st.booleans())
def test_every_index_once_limits_respected_and_reference_agrees(lengths, max_tokens, max_sentences, multiple,
                                                                 use_vec, sort):
    lengths = np.array(sorted(lengths) if sort else lengths, dtype=np.int64)
    order = np.random.default_rng(len(lengths)).permutation(len(lengths))  # dataset indices in batching order
    batches = data_utils.batch_by_size(
        order, lambda i: int(lengths[np.flatnonzero(order == i)[0]]), num_tokens_vec=lengths if use_vec else None,
        max_tokens=max_tokens, max_sentences=max_sentences, required_batch_size_multiple=multiple,
    )
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    positions = [[int(np.flatnonzero(order == i)[0]) for i in b] for b in batches]
    for position, batch in enumerate(positions):
        if max_sentences is not None:
            assert len(batch) <= max_sentences
        if max_tokens is not None:
            assert len(batch) * max(lengths[p] for p in batch) <= max_tokens
        if position < len(batches) - 1 and len(batch) > multiple:
            assert len(batch) % multiple == 0
    assert positions == reference_batches(lengths.tolist(), max_tokens, max_sentences, multiple)


def test_fixed_shapes_are_never_exceeded():
    lengths = [5, 9, 9, 1, 1]
    batches = data_utils.batch_by_size(np.arange(5), lambda i: lengths[i], fixed_shapes=[[1, 10], [4, 5]])
    assert batches == [[0], [1], [2], [3, 4]]  # the compiled kernel put 2, 3, 4 (9 tokens) into a 4 x 5 shape


@settings(max_examples=60, deadline=None)
@given(lengths_strategy, st.lists(st.tuples(st.integers(1, 8), st.integers(5, 60)), min_size=1, max_size=4))
def test_fixed_shapes_property(lengths, shapes):
    batches = data_utils.batch_by_size(np.arange(len(lengths)), lambda i: lengths[i], fixed_shapes=shapes)
    assert [i for b in batches for i in b] == list(range(len(lengths)))
    for batch in batches:  # each batch fits a shape, unless it is one sample longer than every shape
        fits = any(len(batch) <= bsz and max(lengths[i] for i in batch) <= size for bsz, size in shapes)
        assert fits or (len(batch) == 1 and lengths[batch[0]] > max(size for _, size in shapes))
    for batch, following in zip(batches, batches[1:]):  # greedy: the next sample did not fit any more
        grown = batch + following[:1]
        assert not any(len(grown) <= bsz and max(lengths[i] for i in grown) <= size for bsz, size in shapes)


@pytest.mark.parametrize("max_sentences", [1, 5])
def test_task_batch_iterator_yields_all_five_sentences(max_sentences):
    from fairseq.data import Dictionary, LanguagePairDataset
    from fairseq.tasks.fairseq_task import LegacyFairseqTask

    vocab = Dictionary()
    for word in "a b c".split():
        vocab.add_symbol(word)
    sentences = [vocab.encode_line("a b " * (i + 1), add_if_not_exist=False) for i in range(5)]
    lengths = [len(s) for s in sentences]
    dataset = LanguagePairDataset(sentences, lengths, vocab, sentences, lengths, vocab)
    task = LegacyFairseqTask(argparse.Namespace())
    iterator = task.get_batch_iterator(dataset, max_sentences=max_sentences, required_batch_size_multiple=8)
    ids = [i for batch in iterator.next_epoch_itr(shuffle=False) for i in batch["id"].tolist()]
    assert sorted(ids) == [0, 1, 2, 3, 4]
