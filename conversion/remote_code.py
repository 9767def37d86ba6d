"""Source of the ``auto_map`` module that ``to-hf --remote-code`` writes into the HF folder.

Its classes subclass HF's ``MegaForCausalLM`` / ``MegaForMaskedLM`` and add what pre-norm fairseq Mega models
have and HF lacks:
* the final sequence norm after the last layer (``final_norm.*`` weights; ``config.final_norm_affine``);
* inputs of any length with chunking: HF's chunked layers only accept lengths that are multiples of the chunk
  size (so ``generate`` fails), so inputs are right-padded to a multiple (masked: real positions are unchanged, as
  in fairseq, which pads the same way) and the logits cut back; cached decoding is off in that case.
Load with ``AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True)`` (or ``AutoModelForMaskedLM``).
"""

MODULE_NAME = "modeling_mega_final_norm"

SOURCE = '''"""HF Mega classes with the final norm of a pre-norm fairseq Mega model (written by mega-convert)."""

import torch.nn.functional as F
from transformers.models.deprecated.mega.modeling_mega import MegaForCausalLM, MegaForMaskedLM, MegaSequenceNorm


class _WithFinalNorm:
    """Mixin: final norm on the encoder output; right-padding to a chunk multiple."""

    def _add_final_norm(self, config):
        self.final_norm = MegaSequenceNorm(
            config.normalization_type, config.hidden_size, affine=getattr(config, "final_norm_affine", True)
        )
        self.mega.register_forward_hook(self._apply_final_norm)

    def _apply_final_norm(self, module, inputs, outputs):
        hidden = self.final_norm(outputs[0].transpose(0, 1)).transpose(0, 1)  # the norm takes [L, B, D]
        if isinstance(outputs, tuple):
            return (hidden,) + tuple(outputs[1:])
        outputs["last_hidden_state"] = hidden
        return outputs

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        chunk = self.config.chunk_size if self.config.use_chunking else 0
        if input_ids is None or chunk <= 0 or input_ids.size(1) % chunk == 0:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        length = input_ids.size(1)
        extra = chunk - length % chunk
        if attention_mask is None:
            attention_mask = input_ids.new_ones(input_ids.shape)
        input_ids = F.pad(input_ids, (0, extra), value=self.config.pad_token_id)
        attention_mask = F.pad(attention_mask, (0, extra), value=0)
        if labels is not None:
            labels = F.pad(labels, (0, extra), value=-100)
        if self.config.is_decoder:
            kwargs["use_cache"] = False
            kwargs.pop("past_key_values", None)
        outputs = super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        outputs["logits"] = outputs.logits[:, :length]
        return outputs


class MegaWithFinalNormForCausalLM(_WithFinalNorm, MegaForCausalLM):
    def __init__(self, config):
        super().__init__(config)
        self._add_final_norm(config)


class MegaWithFinalNormForMaskedLM(_WithFinalNorm, MegaForMaskedLM):
    def __init__(self, config):
        super().__init__(config)
        self._add_final_norm(config)
'''


def build(class_name: str, config):
    """An instance of one of the module's classes, built from ``SOURCE`` in memory (to fill before saving)."""
    namespace = {}
    exec(compile(SOURCE, f"{MODULE_NAME}.py", "exec"), namespace)
    return namespace[class_name](config)
