"""MegaLM hub interface: loading by folder, scoring and sampling agree with the model's own full forward."""

import math
import shutil

import pytest
import torch

from mega_plugin import MegaLM
from plugin_utils import ORIGINAL

SENTENCES = ["w1 w2 w3 w4 w5", "w10 w11", "w7 w7 w7 w8 w9 w10 w11 w12 w13 w14 w15"]


@pytest.fixture(scope="module")
def lm():
    """The original lm_softmax checkpoint; its folder holds dict.txt, so the folder alone is enough."""
    return MegaLM.from_pretrained(str(ORIGINAL / "lm_softmax")).eval()


def full_forward_log_probs(lm, sentence):
    """log p(token_t | eos, tokens_<t) for the sentence's tokens (fairseq's hub scores no closing eos)."""
    target = lm.encode(sentence)[:-1]
    source = torch.cat([target.new_tensor([lm.task.source_dictionary.eos()]), target[:-1]])
    with torch.no_grad():
        logits, _ = lm.models[0](source[None])
    return torch.log_softmax(logits[0].double(), dim=-1).gather(-1, target[:, None])[:, 0]


def test_score_equals_full_forward_log_probs(lm):
    for hypo, sentence in zip(lm.score(SENTENCES), SENTENCES):
        expected = full_forward_log_probs(lm, sentence)
        assert hypo["positional_scores"].shape == expected.shape == (len(sentence.split()),)
        torch.testing.assert_close(hypo["positional_scores"].double(), expected, atol=1e-5, rtol=0)


def test_perplexity_is_exp_of_mean_negative_log_likelihood(lm):
    scores = torch.cat([full_forward_log_probs(lm, s) for s in SENTENCES])
    assert lm.perplexity(SENTENCES) == pytest.approx(math.exp(-scores.mean().item()), rel=1e-5)


def test_greedy_sample_follows_the_argmax_of_full_forwards(lm):
    """Incremental beam-1 decoding continues the prompt with argmax tokens of repeated full forwards
    (max_len_b counts the prompt: 3 prompt tokens + 9 new ones)."""
    prompt = "w1 w2 w3"
    text = lm.sample(prompt, beam=1, max_len_a=0, max_len_b=12, min_len=12)
    tokens = lm.encode(prompt)[:-1].tolist()
    eos = lm.task.source_dictionary.eos()
    for _ in range(9):
        with torch.no_grad():
            logits, _ = lm.models[0](torch.tensor([[eos] + tokens]))
        logits = logits[0, -1].clone()
        logits[eos] = -math.inf  # min_len forbids ending early
        tokens.append(int(logits.argmax()))
    assert text.split()[:3] == prompt.split()
    assert text == lm.task.source_dictionary.string(torch.tensor(tokens))


def test_sampling_is_seeded_and_uses_the_dictionary(lm):
    torch.manual_seed(0)
    first = lm.sample(["w1", "w5 w6"], sampling=True, sampling_topk=10, max_len_b=10)
    torch.manual_seed(0)
    again = lm.sample(["w1", "w5 w6"], sampling=True, sampling_topk=10, max_len_b=10)
    assert first == again
    words = set(lm.task.source_dictionary.symbols)
    assert all(word in words for text in first for word in text.split())


def test_checkpoint_file_and_data_folder_can_be_given(tmp_path):
    shutil.copy(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "model.pt")
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ORIGINAL / "lm_softmax" / "dict.txt", data / "dict.txt")
    by_folder = MegaLM.from_pretrained(str(tmp_path), data_name_or_path=str(data))
    by_file = MegaLM.from_pretrained(str(tmp_path / "model.pt"), data_name_or_path=str(data))
    assert by_folder.score("w1 w2")["positional_scores"].tolist() == by_file.score("w1 w2")["positional_scores"].tolist()


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file or folder"):
        MegaLM.from_pretrained(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="none of model.pt, checkpoint_best.pt, checkpoint_last.pt"):
        MegaLM.from_pretrained(str(tmp_path))
    shutil.copy(ORIGINAL / "lm_softmax" / "checkpoint_last.pt", tmp_path / "checkpoint_last.pt")
    with pytest.raises(FileNotFoundError, match="dict.txt"):
        MegaLM.from_pretrained(str(tmp_path))  # no dictionary beside it, the recorded data path is elsewhere
    nmt = tmp_path / "nmt"
    nmt.mkdir()
    for name in ("dict.src.txt", "dict.tgt.txt"):
        shutil.copy(ORIGINAL / "nmt" / name, nmt / name)
    with pytest.raises(ValueError, match="not a Mega language model"):
        MegaLM.from_pretrained(str(ORIGINAL / "nmt" / "checkpoint_last.pt"), data_name_or_path=str(nmt))
