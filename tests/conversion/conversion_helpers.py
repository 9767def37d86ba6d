"""Shared helpers of the converter tests: fixture paths, loading through fairseq, building plugin checkpoints."""

import pathlib

import torch

from fixture_utils import FIXTURES, ORIGINAL  # noqa: F401  (re-exported)

HF = FIXTURES / "hf"
CAUSAL = ["clm_softmax_rotary", "clm_laplace_simple", "clm_softmax_simple_chunk4", "clm_softmax_simple_postnorm_trunc4"]
MASKED = ["mlm_softmax_rotary", "mlm_laplace_simple_trunc4", "mlm_softmax_simple_chunk4"]
TOL = 1e-5


def load_fairseq(path: pathlib.Path, data: pathlib.Path = None):
    """``(model, task)`` through ``checkpoint_utils.load_model_ensemble_and_task`` (strict), eval mode."""
    import mega_plugin  # noqa: F401
    from fairseq import checkpoint_utils

    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(path)], arg_overrides={"data": str(data or path.parent)}, strict=True
    )
    return models[0].eval(), task


def hf_logits(model, input_ids, attention_mask, causal: bool) -> torch.Tensor:
    """HF reference logits: full forward, never HF's cached path (hf-mapping.md 6.6)."""
    extra = {"use_cache": False} if causal else {}
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits


def write_dictionary(folder: pathlib.Path, size: int) -> None:
    """dict.txt with ``size - 4`` word symbols (fairseq adds <s> <pad> </s> <unk> in front)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dict.txt").write_text("".join(f"w{index} {1000 - index}\n" for index in range(size - 4)))


def build_plugin_checkpoint(folder: pathlib.Path, task: str, arch: str, model_args: list, vocab: int = 40,
                            seed: int = 0) -> pathlib.Path:
    """A checkpoint of a freshly built plugin model (every weight perturbed, so each one matters), dict.txt beside.

    ``model_args``: fairseq command-line flags of the model (``--decoder-layers 2`` ...)."""
    import mega_plugin
    from fairseq import options, tasks

    write_dictionary(folder, vocab)
    parser = options.get_training_parser()
    argv = [str(folder), "--task", task, "--arch", arch, "--user-dir", str(pathlib.Path(mega_plugin.__file__).parent),
            "--seed", str(seed), *map(str, model_args)]
    args = options.parse_args_and_arch(parser, argv)
    torch.manual_seed(seed)
    model = tasks.setup_task(args).build_model(args)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    path = folder / "checkpoint.pt"
    torch.save({"args": args, "model": model.state_dict(),
                "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                                       "lr_scheduler_state": {}, "num_updates": 0}],
                "extra_state": {"train_iterator": {"epoch": 1}, "val_loss": None}}, path)
    return path


def padded_batch(vocab: int, length: int, seed: int = 1) -> torch.Tensor:
    """``[3, length]`` tokens (ids >= 4): row 0 full, rows 1 and 2 right-padded (pad id 1)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(4, vocab, (3, length), generator=generator)
    tokens[1, length - length // 4:] = 1
    tokens[2, length // 2:] = 1
    return tokens
