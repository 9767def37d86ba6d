"""Source of the ``auto_map`` module written by ``to_hf --remote-code``: HF MegaForCausalLM plus the final norm
that pre-norm fairseq models apply after the last layer (HF's Mega has none)."""

MODULE_NAME = "modeling_mega_final_norm"
CLASS_NAME = "MegaWithFinalNormForCausalLM"

SOURCE = '''"""MegaForCausalLM with the final sequence norm of a pre-norm fairseq Mega LM (written by mega-convert)."""

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
'''
