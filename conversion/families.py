"""The model families that convert: everything that differs between the causal and the masked LM, as data."""

from dataclasses import dataclass

from conversion import key_map


@dataclass(frozen=True)
class Family:
    causal: bool
    side: str  # fairseq module holding the layers: "decoder" or "encoder"
    keys: list  # key_map table
    hf_class: str  # transformers class
    auto_class: str  # transformers Auto* class for reloading
    head: str  # HF head prefix
    share_arg: str  # fairseq flag tying the head to the embedding

    def fairseq_logits(self, model, tokens):
        """Logits ``[B, T, V]`` of a fairseq model of this family."""
        return model.decoder(tokens)[0] if self.causal else model(tokens)[0]

    def max_positions(self, args) -> int:
        return args.max_target_positions if self.causal else args.max_source_positions


CAUSAL = Family(True, "decoder", key_map.CAUSAL_LM, "MegaForCausalLM", "AutoModelForCausalLM", "lm_head",
                "share_decoder_input_output_embed")
MASKED = Family(False, "encoder", key_map.MASKED_LM, "MegaForMaskedLM", "AutoModelForMaskedLM", "mlm_head",
                "share_encoder_input_output_embed")
BY_HF_CLASS = {family.hf_class: family for family in (CAUSAL, MASKED)}


def of_fairseq_model(model):
    """The family of a loaded plugin model, or None."""
    from mega_plugin.models.mega_lm import MegaLanguageModel
    from mega_plugin.models.mega_mlm import MegaMaskedLMModel

    if isinstance(model, MegaLanguageModel):
        return CAUSAL
    if isinstance(model, MegaMaskedLMModel):
        return MASKED
    return None
