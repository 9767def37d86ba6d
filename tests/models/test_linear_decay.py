"""linear_decay against its closed form (original Mega schedule)."""

import pytest
import torch
from omegaconf import OmegaConf

import mega_plugin  # noqa: F401
from fairseq.optim import FairseqOptimizer
from mega_plugin.optim.linear_decay import LinearDecayConfig, LinearDecaySchedule


class _Optimizer(FairseqOptimizer):
    """Records the learning rate the schedule sets."""

    def __init__(self):
        self.lr = None

    def set_lr(self, lr):
        self.lr = lr

    def get_lr(self):
        return self.lr


def _schedule(**kwargs):
    cfg = OmegaConf.structured(LinearDecayConfig(lr=[kwargs.pop("lr", 0.01)], **kwargs))
    optimizer = _Optimizer()
    return LinearDecaySchedule(cfg, optimizer), optimizer


@pytest.mark.parametrize("power", [1, 2])
def test_warmup_decay_and_floor(power):
    schedule, optimizer = _schedule(warmup_updates=100, warmup_power=power, warmup_init_lr=1e-7,
                                    end_learning_rate=0.001, total_num_update=1100)
    assert optimizer.lr == pytest.approx(1e-7)
    for n in (0, 1, 50, 100):
        expected = 1e-7 + n**power * (0.01 - 1e-7) / 100**power
        assert schedule.step_update(n) == pytest.approx(expected)
    for n in (101, 600, 1099):
        assert schedule.step_update(n) == pytest.approx((0.01 - 0.001) / 1000 * (1100 - n) + 0.001)
    assert schedule.step_update(1100) == 0.001
    assert schedule.step_update(5000) == 0.001
    assert optimizer.lr == 0.001
    assert schedule.state_dict() == {"lr": 0.001}


def test_without_warmup_starts_at_peak():
    schedule, optimizer = _schedule(total_num_update=10)
    assert optimizer.lr == 0.01
    assert schedule.step_update(5) == pytest.approx(0.005)


@pytest.mark.parametrize("kwargs, message", [
    (dict(warmup_updates=10, warmup_init_lr=0.5, total_num_update=100), "below the peak"),
    (dict(warmup_updates=0, warmup_init_lr=0.001, total_num_update=100), "needs --warmup-updates"),
    (dict(warmup_updates=10, total_num_update=5), "must exceed"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _schedule(**kwargs)


def test_several_lrs_rejected():
    cfg = OmegaConf.structured(LinearDecayConfig(lr=[0.1, 0.2], total_num_update=10))
    with pytest.raises(ValueError, match="single --lr"):
        LinearDecaySchedule(cfg, _Optimizer())
