"""``--task mega_language_modeling``: fairseq's ``language_modeling`` plus the original Mega LM data options.

* ``--variant-block-multiple-min/max``: training blocks of whole sentences whose sizes are random multiples of the
  model's ``--decoder-chunk-size`` (the original trained WikiText-103 with 2..6 and enwik8 with 2..4); drawn once
  per run with ``--seed``.
* ``--valid-block size:N`` (blocks of N tokens) or ``splits:N`` (the split cut into N blocks) for validation and test,
  as the original evaluated long contexts.
Everything else is the stock task (fairseq 0.12 cannot re-register ``language_modeling``, hence the new name).
"""

import math
import os
from dataclasses import dataclass, field

from fairseq.data import MonolingualDataset, TokenBlockDataset, data_utils
from fairseq.tasks import register_task
from fairseq.tasks.language_modeling import LanguageModelingConfig, LanguageModelingTask

from mega_plugin.data.variable_block_dataset import VariableBlockDataset


@dataclass
class MegaLanguageModelingConfig(LanguageModelingConfig):
    variant_block_multiple_min: int = field(default=1, metadata={"help": "smallest training block, in chunks"})
    variant_block_multiple_max: int = field(default=1, metadata={"help": "largest training block, in chunks"})
    valid_block: str = field(default="size:100000000", metadata={"help": "size:N or splits:N for valid/test"})


def parse_valid_block(spec: str, total_tokens: int) -> int:
    kind, _, number = spec.partition(":")
    if kind not in ("size", "splits") or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"--valid-block must be size:N or splits:N with N > 0, got {spec!r}")
    return int(number) if kind == "size" else math.ceil(total_tokens / int(number))


@register_task("mega_language_modeling", dataclass=MegaLanguageModelingConfig)
class MegaLanguageModelingTask(LanguageModelingTask):
    def build_model(self, args, from_checkpoint=False):
        self.chunk_size = getattr(args, "decoder_chunk_size", -1)  # training block sizes are multiples of it
        return super().build_model(args, from_checkpoint)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        cfg = self.args
        training = split == "train"
        variable = training and cfg.variant_block_multiple_max > 1
        if training and not variable:
            return super().load_dataset(split, epoch, combine, **kwargs)
        path = os.path.join(cfg.data.split(":")[0], split)
        tokens = data_utils.load_indexed_dataset(path, self.dictionary, cfg.dataset_impl, combine=combine)
        if tokens is None:
            raise FileNotFoundError(f"Dataset not found: {split} ({path})")
        if variable:
            chunk = getattr(self, "chunk_size", -1)
            blocks = VariableBlockDataset(tokens, tokens.sizes, chunk, cfg.variant_block_multiple_min,
                                          cfg.variant_block_multiple_max, self.dictionary.eos(), cfg.seed)
        else:
            size = parse_valid_block(cfg.valid_block, int(tokens.sizes.sum()))
            blocks = TokenBlockDataset(tokens, tokens.sizes, size, pad=self.dictionary.pad(),
                                       eos=self.dictionary.eos(), break_mode=cfg.sample_break_mode,
                                       include_targets=True)
        self.datasets[split] = MonolingualDataset(
            blocks, blocks.sizes, self.dictionary, self.output_dictionary,
            add_eos_for_other_targets=cfg.sample_break_mode not in (None, "none"), shuffle=True,
            targets=self.targets, add_bos_token=cfg.add_bos_token,
        )
        return self.datasets[split]

    def get_batch_iterator(self, dataset, max_positions=None, **kwargs):
        """Validation/test blocks may exceed ``--tokens-per-sample`` (that is their point): no length filter."""
        if dataset is not self.datasets.get("train"):
            max_positions = None
        return super().get_batch_iterator(dataset, max_positions=max_positions, **kwargs)
