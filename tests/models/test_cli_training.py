"""End-to-end fairseq CLI runs with the plugin on tiny generated data (CPU, seconds each)."""

import random
import subprocess
import sys
import re

import pytest
import torch

from plugin_utils import PLUGIN_DIR, run_cli

COMMON = ["--cpu", "--optimizer", "adam", "--lr", "0.005", "--lr-scheduler", "linear_decay", "--warmup-updates", "5",
          "--warmup-init-lr", "1e-7", "--seed", "1", "--no-epoch-checkpoints", "--log-format", "simple",
          "--log-interval", "10", "--num-workers", "0"]


def _losses(output, subset):
    return [float(m) for m in re.findall(rf"\| {subset} .*?\| loss ([0-9.]+)", output)]


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def lm_data(tmp_path_factory):
    """A learnable toy language: counting sequences 'a b c d ...' with random starts."""
    root = tmp_path_factory.mktemp("lm")
    rng = random.Random(0)
    alphabet = [f"w{i}" for i in range(12)]
    for split, count in (("train", 300), ("valid", 30), ("test", 30)):
        lines = []
        for _ in range(count):
            start = rng.randrange(12)
            lines.append(" ".join(alphabet[(start + k) % 12] for k in range(rng.randint(4, 12))))
        _write(root / f"{split}.txt", lines)
    run_cli("preprocess", "--only-source", "--trainpref", root / "train.txt", "--validpref", root / "valid.txt",
            "--testpref", root / "test.txt", "--destdir", root / "bin", "--workers", "1")
    return root


LM_ARCH = ["--arch", "mega_lm_base", "--decoder-layers", "2", "--decoder-embed-dim", "32", "--decoder-hidden-dim",
           "64", "--decoder-ffn-embed-dim", "64", "--decoder-z-dim", "16", "--decoder-n-dim", "4",
           "--decoder-chunk-size", "16", "--tokens-per-sample", "40", "--dropout", "0.0"]


def test_mega_lm_base_learns_and_evaluates(lm_data):
    save = lm_data / "checkpoints"
    output = run_cli("train", lm_data / "bin", "--task", "language_modeling", *LM_ARCH, *COMMON,
                     "--total-num-update", "200", "--max-update", "200", "--batch-size", "16",
                     "--save-dir", save)
    valid = _losses(output, "valid")
    assert len(valid) >= 2
    assert valid[-1] < 0.5 * valid[0]  # base-2 loss of a deterministic successor task falls a lot
    assert valid[-1] < 1.5
    eval_output = run_cli("eval_lm", lm_data / "bin", "--path", save / "checkpoint_last.pt", "--gen-subset",
                          "test", "--tokens-per-sample", "40", "--batch-size", "8", "--cpu")
    perplexity = float(re.search(r"Perplexity: ([0-9.]+)", eval_output).group(1))
    assert 1.0 <= perplexity < 3.0


def test_lm_generation_with_sequence_generator(lm_data):
    save = lm_data / "checkpoints"
    if not (save / "checkpoint_last.pt").exists():
        pytest.skip("needs the checkpoint of test_mega_lm_base_learns_and_evaluates")
    from fairseq import checkpoint_utils

    import mega_plugin  # noqa: F401

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(save / "checkpoint_last.pt")])
    model = models[0].eval()
    generator = task.build_generator([model], cfg.generation)
    prompt = torch.tensor([[task.dictionary.index(w) for w in "w3 w4 w5".split()]])
    sample = {"net_input": {"src_tokens": prompt, "src_lengths": torch.tensor([3])}}
    hypo = task.inference_step(generator, [model], sample, prefix_tokens=prompt)[0][0]
    words = task.dictionary.string(hypo["tokens"]).split()
    assert words[:5] == ["w3", "w4", "w5", "w6", "w7"]


@pytest.fixture(scope="module")
def nmt_data(tmp_path_factory):
    """Copy task: target = source with every token renamed."""
    root = tmp_path_factory.mktemp("nmt")
    rng = random.Random(1)
    for split, count in (("train", 200), ("valid", 20), ("test", 5)):
        src = [" ".join(f"x{rng.randrange(10)}" for _ in range(rng.randint(3, 7))) for _ in range(count)]
        _write(root / f"{split}.src", src)
        _write(root / f"{split}.tgt", [line.replace("x", "y") for line in src])
    run_cli("preprocess", "--source-lang", "src", "--target-lang", "tgt", "--trainpref", root / "train",
            "--validpref", root / "valid", "--testpref", root / "test", "--destdir", root / "bin",
            "--joined-dictionary", "--workers", "1")
    return root


def test_mega_wmt_en_de_trains_and_generates(nmt_data):
    save = nmt_data / "checkpoints"
    output = run_cli("train", nmt_data / "bin", "--task", "translation", "-s", "src", "-t", "tgt", "--arch", "mega_wmt_en_de",
            "--encoder-layers", "1", "--decoder-layers", "1", "--encoder-embed-dim", "32", "--encoder-hidden-dim",
            "64", "--encoder-ffn-embed-dim", "64", "--encoder-z-dim", "16", "--encoder-n-dim", "4",
            "--share-all-embeddings", "--dropout", "0.0", "--attention-dropout", "0", "--hidden-dropout", "0",
            "--activation-dropout", "0", "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1",
            *COMMON, "--total-num-update", "300", "--max-update", "300", "--batch-size", "16", "--save-dir", save)
    valid = _losses(output, "valid")
    assert valid[-1] < 0.75 * valid[0]
    output = run_cli("generate", nmt_data / "bin", "-s", "src", "-t", "tgt", "--path", save / "checkpoint_last.pt",
                     "--beam", "2", "--batch-size", "5", "--cpu", "--gen-subset", "test")
    hypotheses = re.findall(r"^H-\d+\t\S+\t(.*)$", output, flags=re.M)
    assert len(hypotheses) == 5  # no sentence lost by batching
    assert re.search(r"BLEU4? = [0-9.]+", output)


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_training_matches_update_freq_two(lm_data):
    """2 CPU processes (gloo) follow the same loss curve as 1 process accumulating 2 batches."""
    args = [str(lm_data / "bin"), "--task", "language_modeling", *LM_ARCH, "--optimizer", "adam", "--lr", "0.003",
            "--batch-size", "8", "--max-update", "12", "--cpu", "--seed", "3", "--log-format", "simple",
            "--log-interval", "4", "--no-save", "--required-batch-size-multiple", "1", "--num-workers", "0",
            "--user-dir", PLUGIN_DIR]
    port = _free_port()
    ranks = [
        subprocess.Popen(
            [sys.executable, "-m", "fairseq_cli.train", *args, "--distributed-world-size", "2",
             "--distributed-rank", str(rank), "--distributed-init-method", f"tcp://127.0.0.1:{port}",
             "--distributed-backend", "gloo", "--distributed-no-spawn", "--device-id", "0",
             "--ddp-backend", "legacy_ddp"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [process.communicate(timeout=300)[0] for process in ranks]
    assert all(process.returncode == 0 for process in ranks), outputs[0][-2000:]
    single = run_cli("train", *args[:-2], "--update-freq", "2")
    curve = lambda text: [float(x) for x in re.findall(r"train_inner .*? loss=([0-9.]+)", text)]  # noqa: E731
    assert len(curve(single)) == 3
    assert curve(outputs[0]) == pytest.approx(curve(single), abs=2e-3)


def test_variable_blocks_and_valid_blocks(lm_data):
    """mega_language_modeling: whole-sentence training blocks of 2..3 chunks, validation cut into 2 blocks."""
    from fairseq.data import Dictionary, data_utils

    from mega_plugin.data.variable_block_dataset import VariableBlockDataset
    from mega_plugin.tasks.mega_language_modeling import parse_valid_block

    dictionary = Dictionary.load(str(lm_data / "bin" / "dict.txt"))
    tokens = data_utils.load_indexed_dataset(str(lm_data / "bin" / "train"), dictionary)
    blocks = VariableBlockDataset(tokens, tokens.sizes, 8, 2, 3, dictionary.eos(), seed=1)
    assert blocks.sizes.max() <= 24 and blocks.sizes.sum() == tokens.sizes.sum()
    source, target, _ = blocks[0]
    assert source[0] == dictionary.eos() and torch.equal(source[1:], target[:-1])
    assert parse_valid_block("splits:2", 101) == 51 and parse_valid_block("size:64", 101) == 64
    with pytest.raises(ValueError, match="size:N or splits:N"):
        parse_valid_block("blocks:3", 10)
    output = run_cli("train", lm_data / "bin", "--task", "mega_language_modeling", *LM_ARCH[:-4],
                     "--decoder-chunk-size", "8", "--variant-block-multiple-min", "2", "--variant-block-multiple-max",
                     "3", "--sample-break-mode", "complete", "--valid-block", "splits:2", "--tokens-per-sample", "64",
                     *COMMON, "--total-num-update", "10", "--max-update", "4", "--batch-size", "4",
                     "--save-dir", lm_data / "variable", "--no-save")
    assert re.search(r"\| valid .*\| loss [0-9.]+", output)
