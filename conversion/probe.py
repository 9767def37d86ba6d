"""Run a fairseq model and its HF counterpart on the same padded probe batch and measure the logit difference."""

import torch

from conversion.errors import ConversionError

TOLERANCE = 1e-5


def probe_tokens(vocab_size: int, length: int, seed: int = 0) -> torch.Tensor:
    """``[2, length]`` random real tokens (ids >= 4); the second row is right-padded by a third (pad id 1)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, vocab_size, (2, length), generator=generator)
    tokens[1, length - max(1, length // 3):] = 1
    return tokens


def probe_length(chunk_size: int, max_positions: int) -> int:
    """HF's chunked models need a multiple of the chunk; unchunked simple bias tables need <= max_positions."""
    return 2 * chunk_size if chunk_size > 0 else min(16, max_positions)


def compare(ours: torch.Tensor, hf_model, tokens: torch.Tensor, causal: bool = True) -> float:
    """Max abs difference between our logits and the HF model's at non-pad positions; raises above the tolerance."""
    pad = tokens.eq(1)
    with torch.no_grad():
        extra = {"use_cache": False} if causal else {}
        theirs = hf_model(input_ids=tokens, attention_mask=(~pad).long(), **extra).logits
    diff = (ours - theirs)[~pad].abs().max().item()
    if not diff <= TOLERANCE:
        raise ConversionError(
            f"converted model disagrees on the probe batch: max abs logit diff {diff:.3g} > {TOLERANCE}"
        )
    return diff
