"""Run a fairseq LM and an HF causal LM on the same padded probe batch and measure the logit difference."""

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
    """HF chunked decoders need a multiple of the chunk; simple bias tables need <= max_positions."""
    if chunk_size > 0:
        return 2 * chunk_size if 2 * chunk_size <= max(max_positions, 2 * chunk_size) else chunk_size
    return min(16, max_positions)


def compare(fairseq_model, hf_model, tokens: torch.Tensor) -> float:
    """Max abs logit difference at non-pad positions; raises if above the tolerance."""
    pad = tokens.eq(1)
    with torch.no_grad():
        ours = fairseq_model.decoder(tokens)[0]
        theirs = hf_model(input_ids=tokens, attention_mask=(~pad).long(), use_cache=False).logits
    diff = (ours - theirs)[~pad].abs().max().item()
    if not diff <= TOLERANCE:
        raise ConversionError(f"converted model disagrees on the probe batch: max abs logit diff {diff:.3g} > {TOLERANCE}")
    return diff
