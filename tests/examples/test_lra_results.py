"""results.py: reading fairseq-train logs (simple and json formats), the checkpoint-selection rule, the table
beside the paper's Table 2 rows, and the bar plot."""

import json

import pytest

from lra_helpers import LRA_DIR  # noqa: F401  (puts examples/lra on sys.path)

import results  # noqa: E402

# lines as fairseq 0.12 prints them (captured from a recipe run), plus a fairseq-0.9 style line (original code)
SIMPLE_LOG = """\
2026-11-22 13:31:03 | INFO | train_inner | epoch 001:      3 / 3 loss=3.219, accuracy=0, num_updates=3
2026-11-22 13:31:03 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 3.373 | accuracy 20 | wps 0 | wpb 11 | bsz 2 | num_updates 3
2026-11-22 13:31:03 | INFO | test | epoch 001 | valid on 'test' subset | loss 3.139 | accuracy 50 | wps 0 | wpb 14 | bsz 2 | num_updates 3
2026-11-22 13:31:03 | INFO | train | epoch 001 | loss 3.226 | accuracy 99 | wps 32.1 | num_updates 3
2026-11-22 13:31:04 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 3.1 | accuracy 40.5 | wps 0 | num_updates 6 | best_accuracy 40.5
2026-11-22 13:31:04 | INFO | test | epoch 002 | valid on 'test' subset | loss 3.0 | accuracy 37.25 | wps 0 | num_updates 6
2026-11-22 13:31:05 | INFO | valid | epoch 003 | valid on 'valid' subset | loss 3.2 | accuracy 40.5 | wps 0 | num_updates 9 | best_accuracy 40.5
2026-11-22 13:31:05 | INFO | test | epoch 003 | valid on 'test' subset | loss 2.9 | accuracy 60 | wps 0 | num_updates 9
"""
JSON_LOG = """\
2026-11-22 13:32:25 | INFO | train_inner | {"epoch": 1, "update": 1.0, "loss": "3.219", "accuracy": "90", "num_updates": "3"}
2026-11-22 13:32:25 | INFO | valid | {"epoch": 1, "valid_loss": "3.376", "valid_accuracy": "10", "valid_num_updates": "3"}
2026-11-22 13:32:25 | INFO | test | {"epoch": 1, "test_loss": "3.137", "test_accuracy": "50", "test_num_updates": "3"}
2026-11-22 13:32:25 | INFO | train | {"epoch": 1, "train_loss": "3.226", "train_accuracy": "95", "train_num_updates": "3"}
2026-11-22 13:32:26 | INFO | valid | {"epoch": 2, "valid_loss": "3.381", "valid_accuracy": "30", "valid_num_updates": "4", "valid_best_accuracy": "30"}
2026-11-22 13:32:26 | INFO | test | {"epoch": 2, "test_loss": "3.13", "test_accuracy": "45.5", "test_num_updates": "4"}
"""
FAIRSEQ_09_LOG = """\
| epoch 001 | valid on 'valid' subset | loss 2.302 | nll_loss 2.302 | accuracy 13.4 | num_updates 100
| epoch 002 | valid on 'valid' subset | loss 2.102 | accuracy 17.75 | num_updates 200 | best_accuracy 17.75
"""


def _log(tmp_path, text, name="train.log"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_simple_log_selects_the_test_accuracy_of_the_first_best_validation_epoch(tmp_path):
    records = results.read_log(_log(tmp_path, SIMPLE_LOG))
    assert [(r["subset"], r["epoch"], r["accuracy"], r["num_updates"]) for r in records] == [
        ("valid", 1, 20.0, 3), ("test", 1, 50.0, 3), ("valid", 2, 40.5, 6), ("test", 2, 37.25, 6),
        ("valid", 3, 40.5, 9), ("test", 3, 60.0, 9)]
    # epochs 2 and 3 tie on validation: the first is the one fairseq keeps as checkpoint_best
    assert results.select(records) == {"valid": 40.5, "epoch": 2, "num_updates": 6, "test": 37.25, "accuracy": 37.25}


def test_json_log_and_training_lines_are_not_taken(tmp_path):
    selected = results.select(results.read_log(_log(tmp_path, JSON_LOG)))
    assert selected == {"valid": 30.0, "epoch": 2, "num_updates": 4, "test": 45.5, "accuracy": 45.5}


def test_log_without_test_subset_reports_best_validation(tmp_path):
    selected = results.select(results.read_log(_log(tmp_path, FAIRSEQ_09_LOG)))
    assert (selected["accuracy"], selected["test"], selected["epoch"]) == (17.75, None, 2)


def test_paper_rows_and_their_averages():
    text = results.table({})
    assert "| Mega (paper) | 63.14 | 90.43 | 91.25 | 90.44 | 96.01 | 97.98 | 88.21 |" in text
    assert "| Mega-chunk (paper) | 58.76 | 90.19 | 90.97 | 85.80 | 94.41 | 93.81 | 85.66 |" in text
    for values, printed in results.PAPER.values():  # the printed averages are the means of the six tasks
        assert round(sum(values) / 6, 2) == printed


def test_our_row_average_needs_all_six_tasks(tmp_path):
    partial = results.table(results.collect([f"listops={_log(tmp_path, SIMPLE_LOG)}", "image=50"]), "ours")
    assert "| ours | 37.25 | - | - | 50.00 | - | - | - |" in partial
    full = results.collect(["listops=60", "imdb=90", "aan=91", "cifar10=80.5", "pathfinder=95", "path-x=50"])
    assert "| this run | 60.00 | 90.00 | 91.00 | 80.50 | 95.00 | 50.00 | 77.75 |" in results.table(full)


def test_json_input_with_relative_log_paths(tmp_path):
    (tmp_path / "runs").mkdir()
    _log(tmp_path / "runs", JSON_LOG, "imdb.log")
    (tmp_path / "results.json").write_text(json.dumps({"text": "runs/imdb.log", "retrieval": 88.5}))
    assert results.collect(["listops=12"], tmp_path / "results.json") == {"text": 45.5, "retrieval": 88.5,
                                                                          "listops": 12.0}


def test_bad_arguments_are_reported(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown LRA task 'mnist'"):
        results.collect(["mnist=3"])
    with pytest.raises(ValueError, match="TASK=ACCURACY"):
        results.collect(["listops"])
    with pytest.raises(ValueError, match="no validation accuracy"):
        results.collect([f"listops={_log(tmp_path, 'nothing here')}"])
    with pytest.raises(SystemExit) as exit_info:
        results.main([f"listops={tmp_path / 'missing.log'}"])
    assert exit_info.value.code == 2 and "missing.log" in capsys.readouterr().err


def test_bar_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    results.main(["listops=40", "text=70", "--plot", str(tmp_path / "lra.png")])
    assert (tmp_path / "lra.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_so(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert results.plot({"listops": 40.0}, tmp_path / "lra.png") is False
    assert "matplotlib is not installed" in capsys.readouterr().out and not (tmp_path / "lra.png").exists()
