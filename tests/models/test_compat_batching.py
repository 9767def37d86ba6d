"""fairseq-fixed's batch_by_size dropped the last batch; with the plugin imported no sentence is lost."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mega_plugin.compat  # noqa: F401
from fairseq.data import data_utils


def test_repro_five_sentences_batch_of_five():
    batches = data_utils.batch_by_size(
        np.arange(5), lambda i: 10, max_tokens=None, max_sentences=5, required_batch_size_multiple=8
    )
    assert [list(b) for b in batches] == [[0, 1, 2, 3, 4]]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=60),
    st.one_of(st.none(), st.integers(50, 300)),
    st.one_of(st.none(), st.integers(1, 20)),
    st.sampled_from([1, 2, 3, 8]),
    st.booleans(),
)
def test_every_index_exactly_once_and_limits_respected(sizes, max_tokens, max_sentences, multiple, use_vec):
    sizes = np.array(sizes, dtype=np.int64)
    indices = np.argsort(sizes, kind="stable")
    batches = data_utils.batch_by_size(
        indices, lambda i: int(sizes[i]), num_tokens_vec=sizes[indices] if use_vec else None,
        max_tokens=max_tokens, max_sentences=max_sentences, required_batch_size_multiple=multiple,
    )
    seen = np.concatenate([np.asarray(b) for b in batches])
    assert sorted(seen.tolist()) == list(range(len(sizes)))
    for position, batch in enumerate(batches):
        if max_sentences is not None:
            assert len(batch) <= max_sentences
        if max_tokens is not None and len(batch) > 1:
            assert len(batch) * max(sizes[i] for i in batch) <= max_tokens
        if position < len(batches) - 1 and len(batch) > multiple:
            assert len(batch) % multiple == 0


def test_task_batch_iterator_keeps_all_sentences(tmp_path):
    from fairseq.data import Dictionary, LanguagePairDataset
    from fairseq.data.data_utils import batch_by_size  # noqa: F401  (the patched attribute is read at call time)

    vocab = Dictionary()
    for word in "a b c".split():
        vocab.add_symbol(word)
    sentences = [vocab.encode_line("a b " * (i + 1), add_if_not_exist=False) for i in range(5)]
    dataset = LanguagePairDataset(sentences, [len(s) for s in sentences], vocab,
                                  sentences, [len(s) for s in sentences], vocab)
    batches = dataset.batch_by_size(dataset.ordered_indices(), max_sentences=5, required_batch_size_multiple=8)
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3, 4]
