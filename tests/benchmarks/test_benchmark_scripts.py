"""The benchmark scripts run at toy sizes and check what they promise before timing: our layer and decoder agree
with HF's on the same weights, and train.py's two models have matching parameter counts. Nothing is timed here."""

import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
pytest.importorskip("transformers")


def run(script, *args):
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *map(str, args)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")]


def column(rows, name):
    header = [cell.strip() for cell in rows[0]]
    return [row[header.index(name)].strip() for row in rows[1:] if not row[0].strip().startswith("---")]


def test_layer_benchmark_agrees_with_hf_before_timing():
    rows = run("layer.py", "--tokens", 64, "--lengths", 32, "--chunks", -1, 8, "--dim", 16, "--repeat", 1)
    diffs = [float(value) for value in column(rows, "max abs(ours-HF)")]
    assert len(diffs) == 4  # encoder and decoder, full and chunked
    assert max(diffs) < 1e-5
    assert all(float(value) > 0 for value in column(rows, "saved ours/transformer"))


def test_layer_benchmark_saved_only_times_nothing():
    rows = run("layer.py", "--saved-only", "--tokens", 64, "--lengths", 32, "--chunks", 8, "--dim", 16,
               "--layers", "decoder")
    assert column(rows, "ours ms") == column(rows, "transformer ms") == ["-"]
    assert float(column(rows, "max abs(ours-HF)")[0]) < 1e-5
    assert float(column(rows, "saved ours/transformer")[0]) > 0


@pytest.mark.parametrize("attention", ["laplace", "relu2"])
def test_layer_benchmark_agrees_with_hf_for_element_attention(attention):
    rows = run("layer.py", "--tokens", 64, "--lengths", 32, "--chunks", -1, 8, "--dim", 16, "--repeat", 1,
               "--attention", attention, "--layers", "encoder", "--reference")
    diffs = [float(value) for value in column(rows, "max abs(ours-HF)")]
    assert len(diffs) == 2 and max(diffs) < 1e-5
    assert all(float(value) > 0 for value in column(rows, "plain ms"))


def test_decode_benchmark_agrees_with_hf_before_timing():
    rows = run("decode.py", "--contexts", 16, 40, "--chunk", 8, "--dim", 16, "--layers", 2, "--vocab", 50,
               "--steps", 2)
    diffs = [float(value) for value in column(rows, "next-token max abs(ours-HF)")]
    assert len(diffs) == 2 and max(diffs) < 1e-5


def test_train_benchmark_matches_parameter_counts():
    rows = run("train.py", "--dim", 32, "--layers", 1, "--chunk", 16, "--tokens-per-sample", 64, "--batch-size", 2,
               "--updates", 4, "--log-interval", 2)
    params = dict(zip(column(rows, "arch"), (int(p.replace(",", "")) for p in column(rows, "parameters"))))
    assert set(params) == {"mega_lm_base", "transformer_lm"}
    assert abs(params["transformer_lm"] - params["mega_lm_base"]) <= 0.02 * params["mega_lm_base"]


def test_layer_benchmark_recompute_flag_changes_what_the_backward_keeps():
    """--recompute on (CUDA's default) keeps less for the backward than off (CPU's default), by the h * silu(r)
    product, the silu of r, z and the EMA output, the FFN activation and the gate difference: 2H + Z + F + 2D =
    1088 float32 values, 4352 bytes, per token at D = 128, H = F = 256, Z = 64."""
    saved = {}
    for mode in ("on", "off"):
        rows = run("layer.py", "--saved-only", "--no-hf", "--tokens", 4096, "--lengths", 512, "--chunks", 128,
                   "--layers", "decoder", "--recompute", mode)
        saved[mode] = int(column(rows, "ours saved MB")[0])
    assert saved["off"] - saved["on"] == round(4096 * 4352 / 2**20)


@pytest.mark.parametrize("part, rows", [("softmax", 8), ("laplace", 8), ("decode", 2)])
def test_gpu_suite_parts_run_at_toy_size_on_cpu(tmp_path, part, rows):
    """benchmarks/gpu_suite.sh (meant for the H100) at toy size on CPU: every part writes its table, HF is skipped
    for full attention above HF_MAX and compared (< 1e-5) where it runs."""
    import os

    env = dict(os.environ, DEVICE="cpu", DTYPE="fp32", TOKENS="64", LENGTHS="16 32", CHUNKS="-1 8", HF_MAX="16",
               PYTHON=sys.executable, OMP_NUM_THREADS="1")
    result = subprocess.run(["bash", str(BENCHMARKS / "gpu_suite.sh"), str(tmp_path), part], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = [line.split("|")[1:-1] for line in (tmp_path / f"{part}.md").read_text().splitlines()
             if line.startswith("| ")]
    assert len(table) - 1 == rows  # after the header
    name = "next-token max abs(ours-HF)" if part == "decode" else "max abs(ours-HF)"
    diffs = column(table, name)
    assert "-" in diffs  # the 32-token full-attention row skips HF
    assert max(float(d) for d in diffs if d != "-") < 1e-5


@pytest.mark.parametrize("part, lengths, chunks, rows", [("slices", "16 32", "-1 8", 8), ("compile", "16", "8", 2),
                                                         ("norecompute", "16", "-1 8", 4)])
def test_gpu_suite_parts_without_hf_run_at_toy_size_on_cpu(tmp_path, part, lengths, chunks, rows):
    """The parts that leave HF out (value slices, torch.compile, no recomputation) write their rows with our times
    filled in, under the settings they name."""
    import os

    env = dict(os.environ, DEVICE="cpu", DTYPE="fp32", TOKENS="64", LENGTHS=lengths, CHUNKS=chunks,
               PYTHON=sys.executable, OMP_NUM_THREADS="1")
    result = subprocess.run(["bash", str(BENCHMARKS / "gpu_suite.sh"), str(tmp_path), part], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / f"{part}.md").read_text()
    assert f"cuda_value_slices={part == 'slices'}" in text
    table = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| ")]
    assert len(table) - 1 == rows
    assert set(column(table, "HF ms")) == {"-"}
    assert all(float(value) > 0 for value in column(table, "ours ms"))
    if part == "compile":
        assert all(float(value) > 0 for value in column(table, "compiled ms"))


def test_device_check_runs_the_gpu_tests_and_suite_parts_at_toy_size_on_cpu(tmp_path):
    """The one device command: its tests part runs tests/gpu (here on the CPU, MEGA_TEST_DEVICE=cpu) and records the
    versions, each suite part writes its table, and a failing part makes the whole command fail."""
    import os

    env = dict(os.environ, DEVICE="cpu", DTYPE="fp32", TOKENS="64", LENGTHS="16", CHUNKS="-1 8", HF_MAX="16",
               PYTHON=sys.executable, OMP_NUM_THREADS="1", MEGA_TEST_DEVICE="cpu")
    script = str(BENCHMARKS / "device_check.sh")
    result = subprocess.run(["bash", script, str(tmp_path), "tests", "norecompute"], capture_output=True, text=True,
                            env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (tmp_path / "tests.log").read_text()
    assert "torch" in log and "passed" in log and "failed" not in log
    table = [line for line in (tmp_path / "norecompute.md").read_text().splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 4  # header, then encoder and decoder, full and chunked
    failing = subprocess.run(["bash", script, str(tmp_path), "no-such-part"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert failing.returncode != 0
