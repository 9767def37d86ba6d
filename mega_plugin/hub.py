"""Hub interface for trained Mega language models, in the style of fairseq's ``from_pretrained`` models.

    from mega_plugin import MegaLM
    lm = MegaLM.from_pretrained("runs/lm/checkpoints", data_name_or_path="runs/lm/data-bin")
    lm.sample("the house", sampling=True, sampling_topk=10, max_len_b=40)   # -> str
    lm.score("the house is red")["positional_scores"]                       # (T,) natural-log probabilities
    lm.perplexity(["the house is red", "a cat"])                            # -> float

``MegaLM`` is fairseq's ``GeneratorHubInterface`` (``sample``, ``score``, ``generate``, ``encode``, ``decode``)
loaded through the plugin, so every option of ``fairseq-generate`` (beam, sampling, temperature, ...) is a
keyword argument of ``sample`` and ``generate``.
"""

import argparse
import math
import os
from typing import List, Optional, Sequence, Union

from fairseq import checkpoint_utils
from fairseq.data import encoders
from fairseq.hub_utils import GeneratorHubInterface

from mega_plugin.models.mega_lm import MegaLanguageModel

CHECKPOINT_NAMES = ("model.pt", "checkpoint_best.pt", "checkpoint_last.pt")
SENTENCEPIECE_NAMES = ("sentencepiece.bpe.model", "spm.model")


def find_checkpoint(model_name_or_path: str, checkpoint_file: Optional[str] = None) -> str:
    """The checkpoint path for a checkpoint file, or a folder holding model.pt / checkpoint_best.pt / _last.pt."""
    if os.path.isfile(model_name_or_path):
        if checkpoint_file is not None:
            raise ValueError(f"{model_name_or_path} is a file; checkpoint_file={checkpoint_file!r} needs a folder")
        return model_name_or_path
    if not os.path.isdir(model_name_or_path):
        raise FileNotFoundError(f"no checkpoint file or folder at {model_name_or_path}")
    names = (checkpoint_file,) if checkpoint_file is not None else CHECKPOINT_NAMES
    for name in names:
        path = os.path.join(model_name_or_path, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"none of {', '.join(names)} in {model_name_or_path}")


def find_dictionary_folder(checkpoint: str, data_name_or_path: Optional[str]) -> Optional[str]:
    """The folder with dict.txt: the one given, else the checkpoint's folder when it has one, else None
    (then the data path recorded in the checkpoint is used)."""
    if data_name_or_path is not None:
        if not os.path.isdir(data_name_or_path):
            raise FileNotFoundError(f"data_name_or_path={data_name_or_path} is not a folder")
        return os.path.abspath(data_name_or_path)
    folder = os.path.dirname(os.path.abspath(checkpoint))
    return folder if os.path.isfile(os.path.join(folder, "dict.txt")) else None


def find_sentencepiece_model(checkpoint: str, sentencepiece_model: Optional[str]) -> Optional[str]:
    """The sentencepiece model given, else one stored beside the checkpoint under a conventional name."""
    if sentencepiece_model is not None:
        if not os.path.isfile(sentencepiece_model):
            raise FileNotFoundError(f"no sentencepiece model at {sentencepiece_model}")
        return sentencepiece_model
    folder = os.path.dirname(os.path.abspath(checkpoint))
    for name in SENTENCEPIECE_NAMES:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


class MegaLM(GeneratorHubInterface):
    """A trained Mega language model (any ``mega_lm*`` architecture) with sampling and scoring."""

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: str,
        checkpoint_file: Optional[str] = None,
        data_name_or_path: Optional[str] = None,
        sentencepiece_model: Optional[str] = None,
        **overrides,
    ) -> "MegaLM":
        """Load a checkpoint (a file, or a folder with model.pt / checkpoint_best.pt / checkpoint_last.pt).

        data_name_or_path: the fairseq-preprocess folder with dict.txt; by default the checkpoint's folder when it
        holds dict.txt, else the data path recorded at training time. sentencepiece_model: applied to the text
        given to ``sample``/``score`` (default: sentencepiece.bpe.model or spm.model beside the checkpoint).
        overrides: fairseq options replacing the stored ones (e.g. ``batch_size=8``).
        """
        checkpoint = find_checkpoint(model_name_or_path, checkpoint_file)
        data = find_dictionary_folder(checkpoint, data_name_or_path)
        if data is not None:
            overrides["data"] = data
        try:
            models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], arg_overrides=overrides)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"{error}: pass data_name_or_path= the fairseq-preprocess folder holding dict.txt, "
                "or copy dict.txt next to the checkpoint") from error
        for model in models:
            if not isinstance(model, MegaLanguageModel):
                raise ValueError(f"{checkpoint} holds a {type(model).__name__} (arch {cfg.model.arch!r}), "
                                 "not a Mega language model (mega_lm*)")
        hub = cls(cfg, task, models)
        spm = find_sentencepiece_model(checkpoint, sentencepiece_model)
        if spm is not None:
            hub.bpe = encoders.build_bpe(argparse.Namespace(bpe="sentencepiece", sentencepiece_model=spm))
        return hub

    def perplexity(self, sentences: Union[str, Sequence[str]], **kwargs) -> float:
        """exp of the mean negative log-likelihood per token over all sentences.

        As fairseq's hub ``score``, each sentence is conditioned on a leading end-of-sentence and its own closing
        end-of-sentence is not scored (``fairseq-eval-lm`` scores it), so the two perplexities differ slightly.
        """
        if isinstance(sentences, str):
            sentences = [sentences]
        hypos: List[dict] = self.score(list(sentences), **kwargs)
        total = sum(float(h["positional_scores"].sum()) for h in hypos)
        count = sum(h["positional_scores"].numel() for h in hypos)
        return math.exp(-total / count)
