"""``--criterion lra_cross_entropy``: classification loss and accuracy of the LRA and speech-commands models.

The model takes the whole sample (``model(sample)``) and returns ``{'encoder_out': logits [B, classes]}``.
loss = summed NLL of ``log_softmax(logits)`` (no smoothing, no ignored index); sample size = B with
``--sentence-avg`` (all original recipes), else ``ntokens``. Logged: loss / sample size in base 2, and
accuracy = 100 * correct / sentences.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from omegaconf import II


@dataclass
class LRACrossEntropyConfig(FairseqDataclass):
    sentence_avg: bool = II("optimization.sentence_avg")


@register_criterion("lra_cross_entropy", dataclass=LRACrossEntropyConfig)
class LRACrossEntropyCriterion(FairseqCriterion):  # class name is stored in checkpoints and checked on resume
    def __init__(self, task, sentence_avg):
        super().__init__(task)
        self.sentence_avg = sentence_avg

    def forward(self, model, sample, reduce=True):
        net_output = model(sample)
        lprobs = model.get_normalized_probs(net_output, log_probs=True)
        lprobs = lprobs.view(-1, lprobs.size(-1))
        target = model.get_targets(sample, net_output).view(-1)
        loss = F.nll_loss(lprobs, target, reduction="sum" if reduce else "none")
        nsentences = sample["target"].size(0)
        sample_size = nsentences if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "ncorrects": (torch.argmax(lprobs, dim=1) == target).sum().data,
            "ntokens": sample["ntokens"],
            "nsentences": nsentences,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        nsentences = sum(log.get("nsentences", 0) for log in logging_outputs)
        if sample_size > 0:
            metrics.log_scalar("loss", loss / sample_size / math.log(2), sample_size, round=3)
        if nsentences > 0 and any("ncorrects" in log for log in logging_outputs):
            ncorrects = sum(log.get("ncorrects", 0) for log in logging_outputs)
            metrics.log_scalar("accuracy", 100.0 * ncorrects / nsentences, nsentences, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
