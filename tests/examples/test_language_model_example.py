"""examples/language_model end to end on slices of the real data (kept next to the checkout, in ../shared/data;
skipped when absent): run.sh with tiny models and 4 updates on the first 400 lines of WikiText-2 valid/test and on
the first 3,000 characters of tiny Shakespeare. Checks the splits against the raw files, the binarized token counts,
that both checkpoints load, the table's parameter counts and perplexities / bits per character against values
computed here (including an independent scoring of the test split), and the Mega sample."""

import gzip
import importlib.util
import json
import math
import os
import pathlib
import re
import subprocess
import sys
from argparse import Namespace

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "language_model"
SHARED = ROOT.parent / "shared" / "data"
FOLDERS = {"wikitext2": SHARED / "wikitext-2", "shakespeare": SHARED / "tinyshakespeare"}
LIMITS = {"wikitext2": 400, "shakespeare": 3000}
UPDATES, TOKENS, LONG = 4, 32, 96
MODELS = ("mega", "transformer")


def load_prepare():
    """examples/language_model/prepare.py under its own name (examples/lra has a prepare.py as well)."""
    spec = importlib.util.spec_from_file_location("language_model_prepare", EXAMPLE / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=sorted(FOLDERS))
def tiny_run(request, tmp_path_factory):
    """(dataset, work folder, stdout) of run.sh on the slice."""
    dataset = request.param
    if not FOLDERS[dataset].is_dir():
        pytest.skip(f"shared data {FOLDERS[dataset]} not present")
    work = tmp_path_factory.mktemp(dataset)
    env = dict(os.environ, PYTHON=sys.executable, LIMIT=str(LIMITS[dataset]), UPDATES=str(UPDATES), WARMUP="2",
               TOKENS=str(TOKENS), LONG=str(LONG), BATCH="4", SIZE="tiny", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for knob in ("LAYERS", "DIM", "HIDDEN", "FFN", "ZDIM", "NDIM", "CHUNK", "TFFN", "HEADS", "PROMPT", "LR"):
        env.pop(knob, None)
    result = subprocess.run(["bash", str(EXAMPLE / "run.sh"), dataset, str(FOLDERS[dataset]), str(work)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return dataset, work, result.stdout


def raw_text(dataset, name):
    with gzip.open(FOLDERS[dataset] / name, "rt", encoding="utf-8") as handle:
        return handle.read()


def binarized_tokens(work, split):
    """All token ids of a binarized split as one stream, and the dictionary."""
    from fairseq.data import Dictionary, data_utils

    dictionary = Dictionary.load(str(work / "data-bin" / "dict.txt"))
    dataset = data_utils.load_indexed_dataset(str(work / "data-bin" / split), dictionary)
    return torch.cat([dataset[i] for i in range(len(dataset))]), dictionary


def load(work, model):
    from fairseq import checkpoint_utils, utils

    utils.import_user_module(Namespace(user_dir=str(ROOT / "mega_plugin")))
    path = str(work / model / "checkpoints" / "checkpoint_best.pt")
    models, _ = checkpoint_utils.load_model_ensemble([path], arg_overrides={"data": str(work / "data-bin")})
    return models[0].eval(), checkpoint_utils.load_checkpoint_to_cpu(path)


def logged_loss(log):
    return float(re.findall(r"Loss \(base 2\): ([0-9.]+)", log.read_text())[-1])


def table_rows(stdout):
    """model name -> cells of the Markdown table printed by run.sh."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0].split(" ")[0] in MODELS:
            rows[cells[0].split(" ")[0]] = cells
    return rows


def test_splits_match_the_raw_files(tiny_run):
    dataset, work, _ = tiny_run
    limit = LIMITS[dataset]
    sizes = json.loads((work / "text" / "splits.json").read_text())
    written = {split: (work / "text" / f"{split}.txt").read_text(encoding="utf-8").splitlines()
               for split in ("train", "valid", "test")}
    if dataset == "wikitext2":
        source = raw_text(dataset, "valid.txt.gz").splitlines()[:limit]
        held = round(0.05 * limit)
        expected = {"train": source[:-held], "valid": source[-held:],
                    "test": raw_text(dataset, "test.txt.gz").splitlines()[:limit]}
        assert [len(expected[s]) for s in ("train", "valid", "test")] == [limit - held, held, limit]
        assert written == expected
        for split, lines in expected.items():
            words = sum(len(line.split()) for line in lines)
            assert sizes[split] == {"lines": len(lines), "words": words}
            stream, _ = binarized_tokens(work, split)
            assert len(stream) == words + len(lines)  # one end-of-line token per line
    else:
        text = raw_text(dataset, "input.txt.gz")[:limit]
        cut, mid = int(0.9 * limit), int(0.9 * limit) + (limit - int(0.9 * limit)) // 2
        expected = {"train": text[:cut], "valid": text[cut:mid], "test": text[mid:]}
        prepare = load_prepare()
        for split, piece in expected.items():
            assert len(written[split]) == 1
            assert prepare.char_text(written[split][0]) == piece
            assert sizes[split] == {"lines": 1, "chars": len(piece)}
            stream, dictionary = binarized_tokens(work, split)
            assert len(stream) == len(piece) + 1 and stream[-1] == dictionary.eos()
        assert [len(piece) for piece in expected.values()] == [2700, 150, 150]


def test_checkpoints_load_and_table_counts_their_parameters(tiny_run):
    _, work, stdout = tiny_run
    rows = table_rows(stdout)
    assert sorted(rows) == sorted(MODELS)
    for model in MODELS:
        loaded, state = load(work, model)
        buffers = {name for name, _ in loaded.named_buffers()}
        storages = {tensor.untyped_storage().data_ptr(): tensor.numel()
                    for name, tensor in state["model"].items() if name not in buffers}
        count = sum(storages.values())
        assert count == sum(p.numel() for p in loaded.parameters())
        logged = re.search(r"num\. shared model params: ([0-9,]+)", (work / model / "train.log").read_text())
        assert int(logged.group(1).replace(",", "")) == count
        assert rows[model][1] == f"{count:,}"
        assert rows[model][2] == str(UPDATES) == str(state["optimizer_history"][-1]["num_updates"])
    assert state["cfg"]["model"].decoder_input_dim == state["cfg"]["model"].decoder_embed_dim


def test_table_metrics_are_the_logged_losses(tiny_run):
    dataset, work, stdout = tiny_run
    rows = table_rows(stdout)

    def shown(loss):
        return f"{2 ** loss:.2f}" if dataset == "wikitext2" else f"{loss:.3f}"

    for model in MODELS:
        _, state = load(work, model)
        assert rows[model][4] == shown(state["extra_state"]["val_loss"])
        assert rows[model][5] == shown(logged_loss(work / model / "eval_test.log"))
        assert rows[model][7] == shown(logged_loss(work / model / "eval_long.log"))
    assert rows["mega"][6] == shown(logged_loss(work / "mega" / "eval_mega.log"))
    assert rows["transformer"][6] == "-"
    # mega-eval-lm with the model's own chunk size scores exactly what fairseq-eval-lm scores
    assert logged_loss(work / "mega" / "eval_mega.log") == pytest.approx(
        logged_loss(work / "mega" / "eval_test.log"), abs=2e-4)
    summary = json.loads((work / "results.json").read_text())
    assert summary["long_tokens"] == LONG and summary["tokens_per_sample"] == TOKENS
    assert summary["unit"] == ("ppl" if dataset == "wikitext2" else "bpc")


@pytest.mark.parametrize("model", MODELS)
def test_eval_lm_loss_is_bits_per_test_token(tiny_run, model):
    """Score the test stream here, in blocks of TOKENS as fairseq cuts it (each block sees only itself, the first
    input of a block is the token before it, </s> before the first), and compare with fairseq-eval-lm's loss."""
    _, work, _ = tiny_run
    loaded, _ = load(work, model)
    stream, dictionary = binarized_tokens(work, "test")
    inputs = torch.cat([torch.tensor([dictionary.eos()]), stream[:-1]])
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(stream), TOKENS):
            source, target = inputs[start : start + TOKENS], stream[start : start + TOKENS]
            logits, _ = loaded.decoder(source.unsqueeze(0))
            lprobs = torch.log_softmax(logits.double(), dim=-1)[0]
            total -= lprobs.gather(-1, target.unsqueeze(-1)).sum().item()
    bits = total / len(stream) / math.log(2)
    assert logged_loss(work / model / "eval_test.log") == pytest.approx(bits, abs=2e-4)


def test_mega_sample_is_made_of_dictionary_symbols(tiny_run):
    dataset, work, stdout = tiny_run
    _, dictionary = binarized_tokens(work, "train")
    log = (work / "mega" / "sample.log").read_text(encoding="utf-8")
    prompt = re.search(r"^S-0\t(.*)$", log, re.M).group(1).split()
    sample = re.search(r"^H-0\t[-0-9.e]+\t(.*)$", log, re.M).group(1).split()
    assert len(sample) > len(prompt) and sample[: len(prompt)] == [
        token if dictionary.index(token) != dictionary.unk() else "<unk>" for token in prompt]
    assert all(dictionary.index(token) != dictionary.unk() or token == "<unk>" for token in sample)
    assert len(sample) <= TOKENS - 1
    if dataset == "shakespeare":
        assert load_prepare().char_text(" ".join(prompt)) == "ROMEO:"
    assert "sample (mega):" in stdout
