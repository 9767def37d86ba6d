"""Converters between fairseq Mega checkpoints and the Hugging Face ``MegaConfig`` layout (transformers 4.x).

Causal LMs (``mega_lm`` <-> ``MegaForCausalLM``) and masked LMs (``mega_mlm`` <-> ``MegaForMaskedLM``):

    from conversion import to_hf, from_hf
    to_hf("checkpoint.pt", "hf_dir")                     # fairseq -> HF (remote_code=True for pre-norm models)
    from_hf("hf_dir", "fairseq/checkpoint.pt")           # HF -> fairseq (dict.txt beside the checkpoint)

Both directions read the same tables (``key_map``: weight names and tensor transforms; ``config_map``: config
fields); every conversion is checked by running both models on a padded probe batch before anything is written,
and written atomically. Both return the measured max abs logit difference. Refusals raise ``ConversionError``.
See conversion/README.md.
"""

from conversion.errors import ConversionError
from conversion.fairseq_to_hf import to_hf
from conversion.hf_to_fairseq import from_hf

__all__ = ["ConversionError", "from_hf", "to_hf"]
