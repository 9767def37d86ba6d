"""Vocabulary files: the fairseq dictionary written into HF folders and read back.

to-hf writes ``dict.txt`` (the fairseq dictionary, loadable with ``fairseq.data.Dictionary.load``),
``vocab.json`` (symbol -> id, ids as the model uses them) and ``special_tokens_map.json``. No HF tokenizer is
written: the dictionary's symbols are whatever the training data was split into (words, BPE codes, characters),
so only the id mapping is known.

from-hf writes ``dict.txt`` beside the checkpoint: the one to-hf stored in the HF folder, or placeholder symbols
``<hf_ID>`` for ids 4..V-1 (fairseq's four special symbols ``<s> <pad> </s> <unk>`` = ids 0..3 come first). For a
masked LM fairseq's ``masked_lm`` task appends ``<mask>``, which takes the last id.
"""

import json
import pathlib

from conversion.errors import ConversionError

SPECIAL_TOKENS = {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}
MASK = "<mask>"


def write_hf_vocabulary(dictionary, folder: pathlib.Path) -> None:
    dictionary.save(str(folder / "dict.txt"))
    vocab = {symbol: index for index, symbol in enumerate(dictionary.symbols)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=0), encoding="utf-8")
    special = dict(SPECIAL_TOKENS, **({"mask_token": MASK} if MASK in vocab else {}))
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2), encoding="utf-8")


def fairseq_dictionary_lines(hf_dir: pathlib.Path, vocab_size: int, masked: bool) -> list:
    """``dict.txt`` lines for a model with ``vocab_size`` embedding rows (see the module docstring)."""
    existing = hf_dir / "dict.txt"
    if not existing.is_file():
        return [f"<hf_{index}> 1" for index in range(4, vocab_size - masked)]
    lines = [line for line in existing.read_text(encoding="utf-8").splitlines() if line.strip()]
    added_mask = masked and all(line.split()[0] != MASK for line in lines)
    symbols = 4 + len(lines) + added_mask
    if symbols != vocab_size:
        raise ConversionError(f"{existing} gives {symbols} symbols, the model has vocab_size {vocab_size}")
    return lines
