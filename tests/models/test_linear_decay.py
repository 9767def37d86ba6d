"""linear_decay: hand-computed values, the learning rates the original training runs logged, fairseq 0.12
construction (command line and original checkpoint args), errors, and shape properties."""

import math

import pytest
import torch
from fairseq import options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.optim import FairseqOptimizer
from fairseq.optim.lr_scheduler import build_lr_scheduler
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

import mega_plugin  # noqa: F401  (registrations)
from fixture_utils import ORIGINAL
from mega_plugin.optim.linear_decay import LinearDecayConfig, LinearDecaySchedule


class RecordingOptimizer(FairseqOptimizer):
    """Records the learning rate the schedule sets."""

    def __init__(self):
        self.lr = None

    def set_lr(self, lr):
        self.lr = lr

    def get_lr(self):
        return self.lr


def _schedule(lr=0.01, **kwargs):
    cfg = OmegaConf.structured(LinearDecayConfig(lr=[lr] if not isinstance(lr, list) else lr, **kwargs))
    optimizer = RecordingOptimizer()
    return LinearDecaySchedule(cfg, optimizer), optimizer


WARMED = dict(warmup_updates=100, warmup_init_lr=1e-7, end_learning_rate=0.001, total_num_update=1100)


@pytest.mark.parametrize("power, values", [
    # n: 1e-7 + n^p * (0.01 - 1e-7) / 100^p
    (1, {0: 1e-7, 1: 0.000100099, 50: 0.00500005, 100: 0.01}),
    (2, {0: 1e-7, 1: 0.00000109999, 50: 0.002500075, 100: 0.01}),
])
def test_warmup_values(power, values):
    schedule, optimizer = _schedule(warmup_power=power, **WARMED)
    assert optimizer.lr == 1e-7  # set at construction
    for n, expected in values.items():
        assert schedule.step_update(n) == pytest.approx(expected, rel=1e-9)
        assert optimizer.lr == schedule.lr


def test_decay_values_and_floor():
    schedule, optimizer = _schedule(**WARMED)
    # n: 0.001 + (1100 - n) * 0.009 / 1000
    for n, expected in {101: 0.009991, 600: 0.0055, 1099: 0.001009}.items():
        assert schedule.step_update(n) == pytest.approx(expected, rel=1e-9)
    assert schedule.step_update(1100) == 0.001 and schedule.step_update(10**6) == 0.001
    assert optimizer.lr == 0.001


@pytest.mark.parametrize("case, lr, warmup, total, logged", [
    # (update, lr) pairs printed by the original train.py for the fixtures (train.log, --log-interval)
    ("lra_text/chunk8", 0.003, 4, 20, {5: 0.0028125, 10: 0.001875, 15: 0.0009375, 20: 0.0}),
    ("lra_image", 0.01, 3, 12, {4: 0.00888889, 8: 0.00444444, 12: 0.0}),
    ("sc_raw", 0.01, 1, 3, {1: 0.01, 2: 0.005, 3: 0.0}),
])
def test_matches_the_original_training_logs(case, lr, warmup, total, logged):
    log = (ORIGINAL / case / "train.log").read_text()
    assert f"--warmup-updates {warmup}" in log and f"--total-num-update {total}" in log
    schedule, _ = _schedule(lr=lr, warmup_updates=warmup, warmup_init_lr=1e-7, total_num_update=total)
    for n, expected in logged.items():
        assert schedule.step_update(n) == pytest.approx(expected, abs=5e-9)


def test_without_warmup_starts_at_the_peak():
    schedule, optimizer = _schedule(total_num_update=10)
    assert optimizer.lr == 0.01 and schedule.step_update(0) == 0.01
    assert schedule.step_update(5) == pytest.approx(0.005, rel=1e-12)


def test_negative_init_is_clamped_to_zero():
    schedule, optimizer = _schedule(warmup_updates=10, total_num_update=20)  # warmup_init_lr default -1
    assert optimizer.lr == 0.0 and schedule.step_update(5) == pytest.approx(0.005, rel=1e-12)


def test_total_below_warmup_drops_to_the_end_rate_after_warmup():
    """Accepted by the original: warm up, then the end rate."""
    schedule, _ = _schedule(warmup_updates=10, warmup_init_lr=0.0, total_num_update=5, end_learning_rate=0.002)
    assert schedule.step_update(10) == pytest.approx(0.01) and schedule.step_update(11) == 0.002


def test_epoch_end_keeps_the_rate_and_state_round_trips():
    schedule, optimizer = _schedule(**WARMED)
    schedule.step_update(600)
    assert schedule.step(3, val_loss=1.0) == pytest.approx(0.0055) and optimizer.lr == pytest.approx(0.0055)
    assert schedule.state_dict() == {"lr": schedule.lr}
    restored, _ = _schedule(**WARMED)
    restored.load_state_dict({"lr": 0.0042})
    assert restored.lr == 0.0042


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=[0.1, 0.2], total_num_update=10), "single --lr"),
    (dict(warmup_updates=-1, total_num_update=10), "must not be negative"),
    (dict(warmup_updates=10, warmup_init_lr=0.5, total_num_update=100), "below the peak"),
    (dict(warmup_updates=0, warmup_init_lr=0.001, total_num_update=100), "needs --warmup-updates"),
    (dict(warmup_updates=10, total_num_update=10), "must differ"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _schedule(**kwargs)


def test_command_line_flags_and_defaults(tmp_path):
    argv = [str(tmp_path), "--task", "language_modeling", "--arch", "transformer_lm", "--optimizer", "adam",
            "--lr", "0.004", "--lr-scheduler", "linear_decay", "--warmup-updates", "10", "--warmup-power", "2",
            "--total-num-update", "50"]
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    assert cfg.lr_scheduler.warmup_init_lr == -1 and cfg.lr_scheduler.end_learning_rate == 0.0
    schedule = build_lr_scheduler(cfg.lr_scheduler, RecordingOptimizer())
    assert schedule.step_update(5) == pytest.approx(0.004 * 25 / 100, rel=1e-12)
    assert schedule.step_update(30) == pytest.approx(0.004 * 20 / 40, rel=1e-12)


def test_built_from_an_original_checkpoint():
    """The original args convert (fairseq 0.12); the schedule reproduces the stored final state."""
    state = torch.load(ORIGINAL / "lra_text" / "chunk8" / "checkpoint_last.pt", weights_only=False)
    cfg = convert_namespace_to_omegaconf(state["args"])
    schedule = build_lr_scheduler(cfg.lr_scheduler, RecordingOptimizer())
    assert isinstance(schedule, LinearDecaySchedule) and schedule.lr == pytest.approx(1e-7)
    history = state["optimizer_history"][-1]
    lr = schedule.step_update(history["num_updates"])
    assert {"lr": lr} == history["lr_scheduler_state"]


@settings(max_examples=60, deadline=None)
@given(peak=st.floats(1e-4, 1.0), init_fraction=st.floats(0.0, 0.99), end_fraction=st.floats(0.0, 1.0),
       warmup=st.integers(1, 50), decay=st.integers(1, 200), power=st.integers(1, 3))
def test_shape(peak, init_fraction, end_fraction, warmup, decay, power):
    """Continuous at both corners, rising during warm-up, falling during the decay, flat afterwards."""
    end = peak * end_fraction
    schedule, _ = _schedule(lr=peak, warmup_updates=warmup, warmup_power=power, warmup_init_lr=peak * init_fraction,
                            end_learning_rate=end, total_num_update=warmup + decay)
    rates = [schedule.learning_rate(n) for n in range(warmup + decay + 3)]
    assert rates[0] == pytest.approx(peak * init_fraction, rel=1e-9, abs=1e-15)
    assert rates[warmup] == pytest.approx(peak, rel=1e-9)
    assert all(a <= b + 1e-15 for a, b in zip(rates[: warmup + 1], rates[1 : warmup + 1]))
    assert all(a >= b - 1e-15 for a, b in zip(rates[warmup:], rates[warmup + 1 :]))
    assert rates[warmup + decay :] == [end] * 3
    assert math.isclose(rates[warmup + 1], end + (decay - 1) * (peak - end) / decay, rel_tol=1e-9, abs_tol=1e-15)
