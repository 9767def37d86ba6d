"""lra_cross_entropy: exact loss / accuracy values, metric reduction, and construction by fairseq 0.12 from the
command line and from an original checkpoint's ``args``."""

import math

import pytest
import torch
from fairseq import criterions, metrics, options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.models import FairseqEncoder, FairseqEncoderModel

import mega_plugin  # noqa: F401  (registrations)
from fixture_utils import ORIGINAL
from mega_plugin.criterions.lra_cross_entropy import LRACrossEntropyCriterion

# Rows are log-probabilities up to a constant: softmax gives [1,2,1]/4, [1,1,2]/4, [1,6,1]/8, [2,1,1]/4.
LOGITS = torch.tensor([[1.0, 2.0, 1.0], [1.0, 1.0, 2.0], [1.0, 6.0, 1.0], [2.0, 1.0, 1.0]]).log()
TARGET = torch.tensor([1, 0, 1, 2])
# -log p(target): log 2, log 4, log(4/3), log 4  -> sum = log(128/3); argmax is right for rows 0 and 2
EXPECTED_LOSS = math.log(128 / 3)


class _Encoder(FairseqEncoder):
    def forward(self, src_tokens, src_lengths=None):
        raise NotImplementedError


class FixedLogitsModel(FairseqEncoderModel):
    """Returns fixed logits for any sample, through fairseq's own normalisation (``get_normalized_probs``)."""

    def __init__(self, logits):
        super().__init__(_Encoder(None))
        self.logits = logits

    def forward(self, sample):
        return {"encoder_out": self.logits}


def _sample(target=TARGET, ntokens=40):
    return {"target": target, "ntokens": ntokens, "net_input": {}}


def test_loss_accuracy_and_sample_size():
    criterion = LRACrossEntropyCriterion(task=None, sentence_avg=True)
    loss, sample_size, log = criterion(FixedLogitsModel(LOGITS), _sample())
    assert loss.item() == pytest.approx(EXPECTED_LOSS, rel=1e-6)
    assert sample_size == 4
    assert int(log["ncorrects"]) == 2 and log["nsentences"] == 4 and log["ntokens"] == 40
    assert log["sample_size"] == 4


def test_token_average_uses_ntokens():
    _, sample_size, log = LRACrossEntropyCriterion(task=None, sentence_avg=False)(FixedLogitsModel(LOGITS), _sample())
    assert sample_size == 40 and log["sample_size"] == 40


def test_unreduced_loss_is_per_sentence():
    loss, _, _ = LRACrossEntropyCriterion(None, True)(FixedLogitsModel(LOGITS), _sample(), reduce=False)
    assert loss.tolist() == pytest.approx([math.log(2), math.log(4), math.log(4 / 3), math.log(4)], rel=1e-6)


def test_target_of_shape_b_by_1_is_flattened():
    """lra-text collates targets to ``[B, 1]``."""
    loss, sample_size, log = LRACrossEntropyCriterion(None, True)(FixedLogitsModel(LOGITS), _sample(TARGET[:, None]))
    assert loss.item() == pytest.approx(EXPECTED_LOSS, rel=1e-6) and sample_size == 4 and int(log["ncorrects"]) == 2


def test_fp16_logits_are_normalised_in_fp32():
    loss, _, _ = LRACrossEntropyCriterion(None, True)(FixedLogitsModel(LOGITS.half()), _sample())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(EXPECTED_LOSS, rel=1e-3)


def test_reduce_metrics_base2_loss_and_rounded_accuracy():
    first = {"loss": torch.tensor(6.0), "ncorrects": torch.tensor(2), "ntokens": 30, "nsentences": 4,
             "sample_size": 4}
    second = {"loss": torch.tensor(3.0), "ncorrects": torch.tensor(1), "ntokens": 20, "nsentences": 3,
              "sample_size": 3}
    assert LRACrossEntropyCriterion.logging_outputs_can_be_summed()
    with metrics.aggregate() as aggregated:
        LRACrossEntropyCriterion.reduce_metrics([first, second])
    values = aggregated.get_smoothed_values()
    assert values["loss"] == pytest.approx(round(9.0 / 7 / math.log(2), 3))
    assert values["accuracy"] == 42.857  # 100 * 3 / 7, rounded to 3 decimals as the original


def _converted(argv):
    parser = options.get_training_parser()
    return convert_namespace_to_omegaconf(options.parse_args_and_arch(parser, argv))


@pytest.mark.parametrize("flag, expected", [(["--sentence-avg"], True), ([], False)])
def test_built_from_the_command_line(tmp_path, flag, expected):
    cfg = _converted([str(tmp_path), "--task", "language_modeling", "--arch", "transformer_lm",
                      "--criterion", "lra_cross_entropy", *flag])
    criterion = criterions.build_criterion(cfg.criterion, task=None)
    assert isinstance(criterion, LRACrossEntropyCriterion) and criterion.sentence_avg is expected


def test_built_from_an_original_checkpoint():
    """The original's args convert (fairseq 0.12) and the class name matches the one stored for resuming."""
    state = torch.load(ORIGINAL / "lra_text" / "chunk8" / "checkpoint_last.pt", weights_only=False)
    cfg = convert_namespace_to_omegaconf(state["args"])
    criterion = criterions.build_criterion(cfg.criterion, task=None)
    assert criterion.sentence_avg is True
    assert type(criterion).__name__ == state["optimizer_history"][-1]["criterion_name"]
