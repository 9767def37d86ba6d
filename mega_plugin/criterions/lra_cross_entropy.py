"""``--criterion lra_cross_entropy``: classification loss and accuracy of the LRA / speech-commands models.

The model is called with the whole sample (``model(sample)``, as the original LRA models expect) and returns
``{"encoder_out": logits [B, classes]}``. Loss is the summed NLL, reported in base 2; accuracy in percent.
"""

import math

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion


@register_criterion("lra_cross_entropy")
class LRACrossEntropyCriterion(FairseqCriterion):
    def __init__(self, task, sentence_avg):
        super().__init__(task)
        self.sentence_avg = sentence_avg

    def forward(self, model, sample, reduce=True):
        logits = model(sample)["encoder_out"]
        target = sample["target"].view(-1)
        lprobs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
        loss = F.nll_loss(lprobs, target, reduction="sum" if reduce else "none")
        batch = target.numel()
        sample_size = batch if self.sentence_avg else sample["ntokens"]
        logging_output = {
            "loss": loss.data,
            "ncorrects": (lprobs.argmax(-1) == target).sum().item(),
            "ntokens": sample["ntokens"],
            "nsentences": batch,
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        nsentences = sum(log.get("nsentences", 0) for log in logging_outputs)
        ncorrects = sum(log.get("ncorrects", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(sample_size, 1) / math.log(2), sample_size, round=3)
        if nsentences:
            metrics.log_scalar("accuracy", 100.0 * ncorrects / nsentences, nsentences, round=1)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True

