"""fairseq 0.12 code paths that read numpy 1.x's ``np.compat.long`` run under numpy 2 once the plugin is imported."""

import numpy as np
import torch

import mega_plugin  # noqa: F401  (applies the compat fixes)
from fairseq.data import Dictionary, LanguagePairDataset, TokenBlockDataset
from fairseq.data.data_utils import collate_tokens  # noqa: F401  (fairseq imported after the plugin)


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items = items
        self.sizes = np.array([len(item) for item in items])

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return len(self.items)


def test_np_compat_long_is_numpy1_value():
    assert np.compat.long is int


def test_token_blocks_in_eos_mode_are_the_sentences():
    sentences = [torch.tensor([5, 6, 2]), torch.tensor([7, 2]), torch.tensor([8, 9, 10, 2])]
    blocks = TokenBlockDataset(ListDataset(sentences), [3, 2, 4], block_size=None, pad=1, eos=2, break_mode="eos")
    assert [blocks[i].tolist() for i in range(len(blocks))] == [s.tolist() for s in sentences]
    assert blocks.block_to_dataset_index.tolist() == [[0, 0, 0], [1, 0, 1], [2, 0, 2]]


def test_language_pair_dataset_with_length_buckets():
    vocab = Dictionary()
    for word in "abcdefgh":
        vocab.add_symbol(word)
    lengths = [3, 5, 8, 2, 7, 4]
    src = ListDataset([torch.full((n,), 4 + n % 4) for n in lengths])
    pairs = LanguagePairDataset(src, src.sizes, vocab, num_buckets=2)
    # sorted lengths 2 3 4 5 7 8: the "lower" 50th percentile is 4 and the 100th is 8
    assert [size for _, size in pairs.buckets] == [4, 8]
    assert pairs.bucketed_num_tokens.tolist() == [4, 8, 8, 4, 8, 4]
    assert pairs[2]["source"].tolist() == [4] * 8 and pairs[0]["source"].tolist() == [1, 7, 7, 7]  # left-padded
