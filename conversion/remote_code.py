"""Source of the ``auto_map`` module written by ``to_hf --remote-code``.

It subclasses HF's MegaForCausalLM to add what pre-norm fairseq Mega LMs have and HF lacks:
* the final sequence norm applied after the last layer;
* inputs of any length with chunking: HF's chunked decoder only accepts lengths that are multiples of the chunk
  size (so ``generate`` fails); inputs are right-padded to a multiple (masked, causal: real positions unchanged)
  and the logits cut back. Cached decoding is switched off in that case.
"""

MODULE_NAME = "modeling_mega_final_norm"
CLASS_NAME = "MegaWithFinalNormForCausalLM"

SOURCE = '''"""MegaForCausalLM with the final sequence norm of a pre-norm fairseq Mega LM (written by mega-convert)."""

import torch
import torch.nn.functional as F
from transformers.models.deprecated.mega.modeling_mega import MegaForCausalLM, MegaSequenceNorm


class MegaWithFinalNormForCausalLM(MegaForCausalLM):
    def __init__(self, config):
        super().__init__(config)
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
            attention_mask = torch.ones_like(input_ids)
        input_ids = F.pad(input_ids, (0, extra), value=self.config.pad_token_id)
        attention_mask = F.pad(attention_mask, (0, extra), value=0)
        if labels is not None:
            labels = F.pad(labels, (0, extra), value=-100)
        kwargs["use_cache"] = False
        kwargs.pop("past_key_values", None)
        outputs = super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        outputs["logits"] = outputs.logits[:, :length]
        return outputs
'''
