"""End-to-end ``fairseq-train`` runs of the LRA models on tiny generated data (CPU, seconds): ListOps-style text
(``lra-text``, binarized by ``fairseq-preprocess --only-source``) and images (``lra-image``). The saved checkpoint is
reloaded and re-evaluated in-process; it must reproduce the last validation loss and accuracy of the log."""

import random

import pytest
import torch

from classifier_helpers import MISSING, SHRINK, TRAIN, check_reload
from mega_plugin.compat.safe_load import load_checkpoint
from plugin_utils import run_cli


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def listops_data(tmp_path_factory):
    """Flat ListOps-like rows ``[MAX d d ... ]`` labelled by their maximum, binarized as spec 5.1."""
    root = tmp_path_factory.mktemp("listops")
    rng = random.Random(2)
    for split, count in (("train", 48), ("valid", 10), ("test", 10)):
        rows = [[str(rng.randrange(10)) for _ in range(rng.randint(2, 14))] for _ in range(count)]
        _write(root / "raw" / f"{split}.src", [" ".join(["[MAX", *row, "]"]) for row in rows])
        _write(root / "raw" / f"{split}.label", [str(max(map(int, row))) for row in rows])
    for kind, folder in (("src", "src-bin"), ("label", "label-bin")):
        run_cli("preprocess", "--only-source", "--trainpref", root / "raw" / f"train.{kind}", "--validpref",
                root / "raw" / f"valid.{kind}", "--testpref", root / "raw" / f"test.{kind}", "--destdir",
                root / folder, "--workers", "1")
    return root


def test_mega_lra_listop_trains_and_its_checkpoint_reloads(listops_data, tmp_path):
    save = tmp_path / "checkpoints"
    output = run_cli("train", listops_data, "--task", "lra-text", "--arch", "mega_lra_listop", "--input-type", "text",
                     "--chunk-size", "8", "--max-positions", "32", "--batch-size", "8", "--max-update", "6",
                     "--total-num-update", "6", "--save-dir", save, *TRAIN, *SHRINK)
    assert "num_updates 6" in output or "num_updates=6" in output
    args = check_reload(output, save / "checkpoint_last.pt", listops_data)
    # architecture defaults as the original: FFN follows --encoder-hidden-dim, norm / classes from the arch
    assert (args.encoder_ffn_embed_dim, args.norm_type, args.sentence_class_num) == (32, "scalenorm", 10)
    assert getattr(args, "normalize_embedding", MISSING) is False and args.chunk_size == 8


def test_mega_lra_cifar10_trains_with_batch_norm(tmp_path):
    rng = random.Random(3)
    data = tmp_path / "images"
    for split, count in (("train", 12), ("valid", 6), ("test", 6)):
        _write(data / "input" / f"{split}.src", [" ".join(str(rng.randrange(256)) for _ in range(48))
                                                 for _ in range(count)])
        _write(data / "label" / f"{split}.label", [str(rng.randrange(10)) for _ in range(count)])
    save = tmp_path / "checkpoints"
    output = run_cli("train", data, "--task", "lra-image", "--arch", "mega_lra_cifar10", "--input-type", "image",
                     "--chunk-size", "16", "--max-positions", "48", "--encoder-normalize-before",
                     "--attention-activation-fn", "laplace", "--pixel-normalization", "0.48", "0.24",
                     "--batch-size", "4", "--max-update", "3", "--total-num-update", "3", "--save-dir", save, *TRAIN,
                     *SHRINK)
    args = check_reload(output, save / "checkpoint_last.pt", data)
    assert (args.norm_type, args.encoder_ffn_embed_dim, args.classifier_out_dim) == ("batchnorm", 32, 320)
    state = load_checkpoint(save / "checkpoint_last.pt")["model"]
    # 3 training forwards updated every batch norm (valid runs in eval mode and does not count)
    assert int(state["encoder.encoder.final_norm.norm.num_batches_tracked"]) == 3
    assert not torch.equal(state["encoder.encoder.final_norm.norm.running_mean"], torch.zeros(16))
