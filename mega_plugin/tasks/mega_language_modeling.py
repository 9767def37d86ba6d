"""``--task mega_language_modeling``: fairseq's ``language_modeling`` with the original Mega LM data handling.

fairseq 0.12 cannot re-register ``language_modeling``, hence the new name; every stock flag is kept. For a chunked
Mega LM (``--decoder-chunk-size C > 0``, read from the model when it is built, which fairseq-train does before
loading data) the training split is cut as the original did:

* ``--sample-break-mode complete`` / ``complete_doc`` / ``complete_doc_with_boundary``: blocks of whole sentences
  whose sizes are random multiples ``m * C``, m in ``[--variant-block-multiple-min, --variant-block-multiple-max]``,
  one draw per block, redrawn every epoch from ``--seed`` (the original drew epoch 1 from the global numpy state;
  with max 1 every block has ``min * C`` tokens);
* ``none`` / ``eos``: fixed blocks of C tokens (the original ignores the variable sizes there too).

``--tokens-per-sample`` then only matters for models without chunks (C <= 0), which get the stock blocks.
Validation and test splits are cut by ``--valid-block``: ``size:N`` (blocks of N tokens) or ``splits:N`` (the
split in N blocks), with ``--sample-break-mode``. Such blocks are never dropped for exceeding the model's
positions, and a batch holds at least one block whatever ``--max-tokens``. The original evaluated them chunk by
chunk with the incremental state (``validate_mega_lm``); fairseq 0.12 validates a block in one forward pass,
which gives the same losses for a causal Mega LM but needs memory for the whole block.
"""

import logging
import math
import os
from dataclasses import dataclass, field

from fairseq import utils
from fairseq.data import MonolingualDataset, TokenBlockDataset, data_utils
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.tasks import register_task
from fairseq.tasks.language_modeling import LanguageModelingConfig, LanguageModelingTask

from mega_plugin.data.variable_block_dataset import BREAK_MODES, EpochBlocksMonolingualDataset, VariableBlockDataset

logger = logging.getLogger(__name__)


@dataclass
class MegaLanguageModelingConfig(LanguageModelingConfig):
    variant_block_multiple_min: int = field(
        default=1, metadata={"help": "the block size is at least this multiple of one chunk size"})
    variant_block_multiple_max: int = field(
        default=1, metadata={"help": "the block size is at most this multiple of one chunk size"})
    valid_block: str = field(
        default="size:100000000",
        metadata={"help": "size:N (blocks of N tokens) or splits:N (N blocks) for validation and test"})


def parse_valid_block(spec: str, total_tokens: int) -> int:
    """``size:N`` -> N; ``splits:N`` -> ``ceil(total_tokens / N)``."""
    kind, _, number = spec.partition(":")
    if kind not in ("size", "splits") or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"--valid-block must be size:N or splits:N with N > 0, got {spec!r}")
    return int(number) if kind == "size" else math.ceil(total_tokens / int(number))


@register_task("mega_language_modeling", dataclass=MegaLanguageModelingConfig)
class MegaLanguageModelingTask(LanguageModelingTask):
    def __init__(self, args, dictionary, output_dictionary=None, targets=None):
        super().__init__(args, dictionary, output_dictionary, targets)
        self.chunk_size = None  # the model's decoder_chunk_size, known once the model is built
        self.evaluation_datasets = set()

    def build_model(self, args, from_checkpoint=False):
        self.chunk_size = getattr(args, "decoder_chunk_size", None)
        return super().build_model(args, from_checkpoint)

    def training_blocks(self, tokens):
        """Blocks of the training split (see the module docstring)."""
        cfg, chunk = self.args, self.chunk_size
        low, high = cfg.variant_block_multiple_min, cfg.variant_block_multiple_max
        if high > 1 and not 1 <= low <= high:
            raise ValueError("need 1 <= --variant-block-multiple-min <= --variant-block-multiple-max, "
                             f"got {low}, {high}")
        block_args = dict(pad=self.dictionary.pad(), eos=self.dictionary.eos(), include_targets=True,
                          break_mode=cfg.sample_break_mode)
        if chunk is None or chunk <= 0:
            if high > 1:
                raise ValueError("--variant-block-multiple-max > 1 needs a chunked Mega LM (--decoder-chunk-size > 0), "
                                 "built before the training data is loaded")
            return TokenBlockDataset(tokens, tokens.sizes, cfg.tokens_per_sample, **block_args)
        if cfg.sample_break_mode in BREAK_MODES:
            return VariableBlockDataset(tokens, tokens.sizes, chunk, low, high if high > 1 else low,
                                        self.dictionary.eos(), cfg.seed, break_mode=cfg.sample_break_mode,
                                        pad=self.dictionary.pad())
        if high > 1:
            logger.warning("--sample-break-mode %s ignores --variant-block-multiple-*: blocks of %d tokens",
                           cfg.sample_break_mode, chunk)
        return TokenBlockDataset(tokens, tokens.sizes, chunk, **block_args)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        cfg = self.args
        paths = utils.split_paths(cfg.data)
        split_path = os.path.join(paths[(epoch - 1) % len(paths)], split)
        tokens = data_utils.load_indexed_dataset(split_path, self.dictionary, cfg.dataset_impl, combine=combine)
        if tokens is None:
            raise FileNotFoundError(f"Dataset not found: {split} ({split_path})")
        tokens = maybe_shorten_dataset(tokens, split, cfg.shorten_data_split_list, cfg.shorten_method,
                                       cfg.tokens_per_sample, cfg.seed)
        if split == "train":
            blocks = self.training_blocks(tokens)
        else:
            size = parse_valid_block(cfg.valid_block, int(tokens.sizes.sum()))
            blocks = TokenBlockDataset(tokens, tokens.sizes, size, pad=self.dictionary.pad(),
                                       eos=self.dictionary.eos(), break_mode=cfg.sample_break_mode,
                                       include_targets=True)
        wrapper = EpochBlocksMonolingualDataset if isinstance(blocks, VariableBlockDataset) else MonolingualDataset
        dataset = wrapper(
            blocks, blocks.sizes, self.dictionary, self.output_dictionary,
            add_eos_for_other_targets=cfg.sample_break_mode not in (None, "none"), shuffle=True,
            targets=self.targets, add_bos_token=cfg.add_bos_token,
            fixed_pad_length=cfg.tokens_per_sample if cfg.pad_to_fixed_length else None,
            pad_to_bsz=(cfg.batch_size_valid if "valid" in split else cfg.batch_size) if cfg.pad_to_fixed_bsz else None,
        )
        if split != "train":
            self.evaluation_datasets.add(dataset)
        self.datasets[split] = dataset
        return dataset

    def get_batch_iterator(self, dataset, max_tokens=None, max_sentences=None, max_positions=None, **kwargs):
        """Validation/test blocks may exceed the model's positions and ``--max-tokens`` (that is their point):
        no length filter, and at least one whole block per batch."""
        if dataset in self.evaluation_datasets:
            max_positions = None
            if max_tokens is not None and len(dataset) > 0:
                max_tokens = max(max_tokens, int(dataset.sizes.max()))
        return super().get_batch_iterator(dataset, max_tokens=max_tokens, max_sentences=max_sentences,
                                          max_positions=max_positions, **kwargs)
