"""Converters between fairseq Mega checkpoints and the Hugging Face ``MegaConfig`` layout (transformers 4.x).

Causal LMs (``mega_lm`` <-> ``MegaForCausalLM``) and masked LMs (``mega_mlm`` <-> ``MegaForMaskedLM``).

    from conversion import to_hf, from_hf
    to_hf("checkpoint.pt", "hf_dir")            # fairseq mega_lm -> MegaForCausalLM
    from_hf("hf_dir", "fairseq/checkpoint.pt")  # MegaForCausalLM -> fairseq mega_lm

Both directions read the same tables (``key_map``, ``config_map``); every conversion is checked by running both
models on a padded probe batch before anything is written, and written atomically.
"""

from conversion.errors import ConversionError
from conversion.fairseq_to_hf import to_hf
from conversion.hf_to_fairseq import from_hf

__all__ = ["ConversionError", "from_hf", "to_hf"]
