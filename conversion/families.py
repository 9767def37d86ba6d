"""The model families that convert, as data; and why the other plugin models do not.

A family pairs a fairseq model (registered name) with an HF class: everything that differs between the causal and
the masked LM is a field here, so the converters have no per-family branches.
"""

from dataclasses import dataclass

from conversion import key_map
from conversion.errors import ConversionError


@dataclass(frozen=True)
class Family:
    causal: bool
    fairseq_model: str  # registered fairseq model name
    side: str  # fairseq module holding the layers: "decoder" or "encoder"
    keys: list  # key_map table
    hf_class: str  # transformers class
    auto_class: str  # transformers Auto* class used to reload
    head: str  # HF head prefix
    share_arg: str  # fairseq flag tying the head to the embedding
    remote_class: str  # class of the --remote-code module (remote_code.py)

    def fairseq_logits(self, model, tokens):
        """Logits ``[B, T, V]`` of a fairseq model of this family."""
        return model.decoder(tokens)[0] if self.causal else model(tokens)[0]

    def chunk_size(self, args) -> int:
        return getattr(args, f"{self.side}_chunk_size")


CAUSAL = Family(True, "mega_lm", "decoder", key_map.CAUSAL_LM, "MegaForCausalLM", "AutoModelForCausalLM", "lm_head",
                "share_decoder_input_output_embed", "MegaWithFinalNormForCausalLM")
MASKED = Family(False, "mega_mlm", "encoder", key_map.MASKED_LM, "MegaForMaskedLM", "AutoModelForMaskedLM",
                "mlm_head", "share_encoder_input_output_embed", "MegaWithFinalNormForMaskedLM")
FAMILIES = (CAUSAL, MASKED)

# plugin models with no HF counterpart -> the reason
NOT_CONVERTIBLE = {
    "mega": "NMT encoder-decoder: Hugging Face Mega has no sequence-to-sequence class",
    "lra": "LRA classifier: its head (mean or first-token pooling -> Linear -> activation -> bias-free projection, "
           "activations without tanh) does not match MegaForSequenceClassification's (first token -> dense -> tanh "
           "-> out_proj with bias)",
    "sc_raw": "speech-commands classifier: real-number (waveform) embedding and a classifier head HF does not have",
}

SEQUENCE_CLASSIFICATION = (
    "MegaForSequenceClassification: its head (first token -> dense -> tanh -> out_proj with bias) matches no fairseq "
    "Mega classifier (the LRA heads pool by mean or first token, use activations without tanh and a bias-free "
    "projection)"
)


def of_fairseq_model(model_name: str, arch: str) -> Family:
    """The family of a registered fairseq model name; a ConversionError naming the reason for the others."""
    for family in FAMILIES:
        if family.fairseq_model == model_name:
            return family
    reason = NOT_CONVERTIBLE.get(model_name, "not a Mega model of this plugin")
    raise ConversionError(f"arch {arch!r} (model {model_name!r}) does not convert: {reason}")


def of_hf_architecture(architecture: str):
    """``(family, with_final_norm)``: the plain HF class, or the --remote-code class that adds the final norm."""
    for family in FAMILIES:
        if architecture in (family.hf_class, family.remote_class):
            return family, architecture == family.remote_class
    if architecture == "MegaForSequenceClassification":
        raise ConversionError(SEQUENCE_CLASSIFICATION)
    raise ConversionError(f"architecture {architecture} does not convert (MegaForCausalLM and MegaForMaskedLM do, "
                          f"and the --remote-code classes written by to-hf)")
