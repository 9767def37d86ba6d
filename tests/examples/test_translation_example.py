"""examples/translation end to end on a slice of the real Multi30k data (kept next to the checkout, in
../shared/data/multi30k; skipped when absent): 300 training pairs, 20 valid/test pairs, a 400-piece BPE, tiny
models and 5 updates. Checks the binarized data against the raw text, the checkpoints, the printed table against
counts computed here, and that every test sentence got exactly one hypothesis."""

import gzip
import json
import os
import pathlib
import re
import subprocess
import sys
from argparse import Namespace

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "translation"
MULTI30K = ROOT.parent / "shared" / "data" / "multi30k"
TRAIN_LINES, EVAL_LINES, UPDATES = 300, 20, 5
MODELS = {"mega": "MegaModel", "transformer": "TransformerModel"}

pytestmark = pytest.mark.skipif(not MULTI30K.is_dir(), reason=f"shared data {MULTI30K} not present")
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))


def raw_lines(stem, lang, limit):
    with gzip.open(MULTI30K / "raw" / f"{stem}.{lang}.gz", "rt", encoding="utf-8") as handle:
        return handle.read().splitlines()[:limit]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(work folder, stdout) of run.sh on the slice."""
    work = tmp_path_factory.mktemp("translation")
    env = dict(os.environ, PYTHON=sys.executable, LINES=str(TRAIN_LINES), EVAL_LINES=str(EVAL_LINES), VOCAB="400",
               UPDATES=str(UPDATES), WARMUP="2", SIZE="tiny", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(["bash", str(EXAMPLE / "run.sh"), str(MULTI30K), str(work)], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return work, result.stdout


def load(work, model):
    from fairseq import checkpoint_utils, utils

    utils.import_user_module(Namespace(user_dir=str(ROOT / "mega_plugin")))
    path = str(work / model / "checkpoints" / "checkpoint_last.pt")
    models, _ = checkpoint_utils.load_model_ensemble([path], arg_overrides={"data": str(work / "data-bin")})
    return models[0], checkpoint_utils.load_checkpoint_to_cpu(path)


def unique_parameter_count(model, state_dict):
    """Parameters of the saved state dict, each storage once (the three tied embedding entries are one)."""
    buffers = {name for name, _ in model.named_buffers()}
    storages = {}
    for name, tensor in state_dict.items():
        if name not in buffers:
            storages[tensor.untyped_storage().data_ptr()] = tensor.numel()
    return sum(storages.values())


def table_rows(stdout):
    """{model: [cells]} of the Markdown table printed by run.sh."""
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"\| (mega|transformer) \(", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip("|").split("|")]
    return rows


def test_data_bin_holds_the_slice_and_decodes_back_to_the_raw_text(tiny_run):
    from fairseq.data import Dictionary, data_utils

    work, _ = tiny_run
    dictionary = Dictionary.load(str(work / "data-bin" / "dict.en.txt"))
    assert (work / "data-bin" / "dict.de.txt").read_text() == (work / "data-bin" / "dict.en.txt").read_text()
    for split, stem, count in (("train", "train", TRAIN_LINES), ("valid", "val", EVAL_LINES),
                               ("test", "test_2016_flickr", EVAL_LINES)):
        for lang in ("en", "de"):
            dataset = data_utils.load_indexed_dataset(str(work / "data-bin" / f"{split}.en-de.{lang}"), dictionary)
            assert len(dataset) == count
            if split == "train":  # every training piece is in the dictionary, so decoding gives the raw line back
                decoded = [dictionary.string(dataset[i], "sentencepiece") for i in range(count)]  # (sentencepiece
                assert decoded == [" ".join(line.split()) for line in raw_lines(stem, lang, count)]  # folds spaces)
    assert (work / "text" / "test.de").read_text(encoding="utf-8").splitlines() == raw_lines(
        "test_2016_flickr", "de", EVAL_LINES)


@pytest.mark.parametrize("model", list(MODELS))
def test_checkpoint_loads_and_table_reports_its_parameters(tiny_run, model):
    work, stdout = tiny_run
    network, state = load(work, model)
    assert type(network).__name__ == MODELS[model]
    assert state["optimizer_history"][-1]["num_updates"] == UPDATES
    counted = unique_parameter_count(network, state["model"])
    assert counted == sum(p.numel() for p in network.parameters())
    train_log = (work / model / "train.log").read_text()
    assert f"num. shared model params: {counted:,} " in train_log  # fairseq's own count at training time
    cells = table_rows(stdout)[model]
    assert int(cells[1].replace(",", "")) == counted
    assert int(cells[2].replace(",", "")) == UPDATES
    assert float(cells[4]) == pytest.approx(state["extra_state"]["val_loss"], abs=5e-4)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_test_sentence_has_one_scored_hypothesis(tiny_run, model):
    import sacrebleu

    work, stdout = tiny_run
    detokenised = dict(line.split("\t")[0:3:2] for line in
                       (work / model / "generate-test.txt").read_text(encoding="utf-8").splitlines()
                       if line.startswith("D-"))
    assert sorted(detokenised) == sorted(f"D-{i}" for i in range(EVAL_LINES))
    hypotheses = (work / model / "test.hyp.de").read_text(encoding="utf-8").split("\n")[:-1]
    assert hypotheses == [detokenised[f"D-{i}"] for i in range(EVAL_LINES)]
    assert json.loads((work / model / "bleu.json").read_text())["sentences"] == EVAL_LINES
    references = raw_lines("test_2016_flickr", "de", EVAL_LINES)
    bleu = sacrebleu.corpus_bleu(hypotheses, [references]).score
    assert float(table_rows(stdout)[model][5]) == pytest.approx(bleu, abs=0.005)


def test_score_reads_hypotheses_in_id_order_and_scores_them(tmp_path):
    from score import score

    references = raw_lines("test_2016_flickr", "de", 4)
    (tmp_path / "ref.de").write_text("".join(line + "\n" for line in references), encoding="utf-8")
    order = [2, 0, 3, 1]
    output = tmp_path / "generate.txt"
    output.write_text("".join(f"S-{i}\tx\nH-{i}\t-1.0\ty\nD-{i}\t-1.0\t{references[i]}\n" for i in order),
                      encoding="utf-8")
    assert score(output, tmp_path / "ref.de")["bleu"] == pytest.approx(100.0)
    output.write_text("".join(f"D-{i}\t-1.0\t{references[(i + 1) % 4]}\n" for i in order), encoding="utf-8")
    shifted = score(output, tmp_path / "ref.de")
    assert shifted["hypotheses"] == references[1:] + references[:1]
    assert shifted["bleu"] < 50.0


def test_score_refuses_missing_or_duplicate_hypotheses(tmp_path):
    from score import read_hypotheses

    output = tmp_path / "generate.txt"
    output.write_text("S-1\tsource\nD-1\t-0.5\tzwei\nH-1\t-0.5\tzwei\nD-0\t-0.2\teins\n")
    assert read_hypotheses(output, 2) == ["eins", "zwei"]
    with pytest.raises(ValueError, match=r"missing ids \[2\]"):
        read_hypotheses(output, 3)
    with pytest.raises(ValueError, match=r"unexpected ids \[1\]"):
        read_hypotheses(output, 1)
    output.write_text("D-0\t-0.2\teins\nD-0\t-0.3\tzwei\n")
    with pytest.raises(ValueError, match="two hypotheses for sentence 0"):
        read_hypotheses(output, 1)
