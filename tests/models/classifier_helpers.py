"""Helpers of the LRA / speech-commands model tests: stand-in task, original command lines, direct model builds,
fairseq-train flags and the reload-and-re-evaluate check of trained checkpoints."""

import argparse
import copy
import re
import shlex

import pytest
import torch
from fairseq import checkpoint_utils, options
from fairseq.data import Dictionary

import mega_plugin  # noqa: F401  (registers the models, tasks and criterion)
from fixture_utils import ORIGINAL
from mega_plugin.compat.safe_load import load_checkpoint
from mega_plugin.models.lra import LRAModel
from mega_plugin.models.sc_raw import SCRawModel

MISSING = object()


class StandInTask:
    """Just what ``build_model`` reads from a task: the source dictionary (None for real-valued inputs)."""

    def __init__(self, dictionary=None):
        self.source_dictionary = dictionary


def text_dictionary(words) -> Dictionary:
    """fairseq dictionary (4 specials) + ``words`` + ``<CLS>``, as the ``lra-text`` task builds it."""
    dictionary = Dictionary()
    for word in words:
        dictionary.add_symbol(word)
    dictionary.add_symbol("<CLS>")
    return dictionary


def fixture_dictionary(case: str):
    """The fixture's source dictionary + ``<CLS>`` (text cases), else None."""
    path = ORIGINAL / case / "src-bin.dict.txt"
    if not path.exists():
        return None
    dictionary = Dictionary.load(str(path))
    dictionary.add_symbol("<CLS>")
    return dictionary


def load_fixture(case: str):
    """``(args, state_dict, inputs, outputs)`` of an original fixture, read with the plugin's safe loader.

    (``fixture_utils.load_case`` is avoided: its ``safe_globals`` context removes, on exit, the globals that
    ``mega_plugin.compat`` allow-listed for the whole process, which breaks later fairseq loads.)
    """
    folder = ORIGINAL / case
    checkpoint = load_checkpoint(folder / "checkpoint_last.pt")
    inputs = torch.load(folder / "inputs.pt", weights_only=True)
    outputs = torch.load(folder / "outputs.pt", weights_only=True)
    return checkpoint["args"], checkpoint["model"], inputs, outputs


def build_from_checkpoint(case: str):
    """Build the model class directly from the original checkpoint's ``args`` (no fairseq task) and load its
    weights strictly. Returns ``(model in eval mode, inputs, outputs)``."""
    args, state, inputs, outputs = load_fixture(case)
    model_class = SCRawModel if args.arch.startswith(("sc_raw", "mega_sc_raw")) else LRAModel
    model = model_class.build_model(copy.deepcopy(args), StandInTask(fixture_dictionary(case)))
    model.load_state_dict(state, strict=True)
    return model.eval(), inputs, outputs


def parse_command(argv):
    """fairseq 0.12 training parser + architecture defaults, as ``fairseq-train`` would parse ``argv``."""
    return options.parse_args_and_arch(options.get_training_parser(), list(map(str, argv)))


def original_command(case: str, data_dir: str = "DATA"):
    """The original ``train.py`` command of a fixture (first line of its train.log), data path replaced."""
    line = (ORIGINAL / case / "train.log").read_text().splitlines()[0]
    argv = shlex.split(line.replace("(0.9, 0.98)", "(0.9,0.98)"))
    start = argv.index("train.py") + 1
    return [data_dir, *argv[start + 1:]]


def model_arg_names(model_class, arch_function) -> set:
    """Every dest of the model's flags plus every name its architecture function sets."""
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS)
    model_class.add_args(parser)
    names = {action.dest for action in parser._actions if action.dest != "help"}
    filled = argparse.Namespace()
    arch_function(filled)
    return names | set(vars(filled))


def sample(tokens, lengths, **extra):
    return {"net_input": {"src_tokens": tokens, "src_lengths": lengths}, **extra}


def logits(model, tokens, lengths):
    with torch.no_grad():
        return model(sample(tokens, lengths))["encoder_out"]


# fairseq-train runs: optimisation / logging flags and the shrunk model size
TRAIN = ["--criterion", "lra_cross_entropy", "--sentence-avg", "--optimizer", "adam", "--lr", "0.005",
         "--lr-scheduler", "linear_decay", "--warmup-updates", "2", "--warmup-init-lr", "1e-7", "--end-learning-rate",
         "0.0", "--cpu", "--seed", "1", "--no-epoch-checkpoints", "--log-format", "simple", "--log-interval", "1",
         "--num-workers", "0", "--required-batch-size-multiple", "1"]
SHRINK = ["--encoder-layers", "1", "--encoder-embed-dim", "16", "--encoder-hidden-dim", "32", "--z-dim", "8",
          "--n-dim", "4"]


def last_valid(output):
    """(loss, accuracy) of the last validation line of a fairseq-train log."""
    lines = [line for line in output.splitlines() if "| valid on 'valid' subset" in line]
    assert lines, output[-3000:]
    loss = float(re.search(r"\| loss ([0-9.]+)", lines[-1]).group(1))
    accuracy = float(re.search(r"\| accuracy ([0-9.]+)", lines[-1]).group(1))
    return loss, accuracy


def reevaluate(checkpoint, data, batch_size=4):
    """Reload ``checkpoint`` with fairseq and compute (loss in bits, accuracy in %) on the valid split."""
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)],
                                                                      arg_overrides={"data": str(data)})
    model = models[0].eval()
    task.load_dataset("valid")
    dataset = task.dataset("valid")
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = dataset.collater([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            lprobs = model.get_normalized_probs(model(batch), log_probs=True)
            target = batch["target"].view(-1)
            total += -lprobs.gather(1, target[:, None]).sum().item()
            correct += (lprobs.argmax(-1) == target).sum().item()
            count += target.numel()
    return total / count / torch.log(torch.tensor(2.0)).item(), 100.0 * correct / count, cfg.model


def check_reload(output, checkpoint, data):
    logged_loss, logged_accuracy = last_valid(output)
    loss, accuracy, args = reevaluate(checkpoint, data)
    assert loss == pytest.approx(logged_loss, abs=1.5e-3)  # the log rounds to 3 decimals
    assert accuracy == pytest.approx(logged_accuracy, abs=0.051)
    return args
