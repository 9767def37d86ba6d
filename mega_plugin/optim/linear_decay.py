"""``--lr-scheduler linear_decay`` of the original Mega recipes.

Warm up from ``--warmup-init-lr`` to the peak ``--lr`` over ``--warmup-updates`` updates following
``init + n^power * (peak - init) / warmup^power``, then decay linearly to ``--end-learning-rate`` at
``--total-num-update``, and stay there.
"""

from dataclasses import dataclass, field
from typing import List

from fairseq.dataclass import FairseqDataclass
from fairseq.optim.lr_scheduler import FairseqLRScheduler, register_lr_scheduler
from omegaconf import II


@dataclass
class LinearDecayConfig(FairseqDataclass):
    warmup_updates: int = field(default=0, metadata={"help": "warm up the learning rate over the first N updates"})
    warmup_power: int = field(default=1, metadata={"help": "exponent of the warm-up curve"})
    warmup_init_lr: float = field(default=-1, metadata={"help": "initial learning rate (default: --lr)"})
    end_learning_rate: float = field(default=0.0, metadata={"help": "learning rate at --total-num-update"})
    total_num_update: int = field(default=1000000, metadata={"help": "update at which the decay ends"})
    lr: List[float] = II("optimization.lr")


@register_lr_scheduler("linear_decay", dataclass=LinearDecayConfig)
class LinearDecaySchedule(FairseqLRScheduler):
    def __init__(self, cfg: LinearDecayConfig, optimizer):
        super().__init__(cfg, optimizer)
        if len(cfg.lr) > 1:
            raise ValueError("linear_decay takes a single --lr (no per-epoch list)")
        self.peak = cfg.lr[0]
        init = cfg.warmup_init_lr
        if cfg.warmup_updates > 0:
            if init >= self.peak:
                raise ValueError(f"--warmup-init-lr ({init}) must be below the peak --lr ({self.peak})")
            init = max(init, 0.0)
            self.warmup_factor = (self.peak - init) / cfg.warmup_updates**cfg.warmup_power
        else:
            if init >= 0:
                raise ValueError("--warmup-init-lr needs --warmup-updates > 0")
            init = self.peak
            self.warmup_factor = 0.0
        if cfg.total_num_update <= cfg.warmup_updates:
            raise ValueError("--total-num-update must exceed --warmup-updates")
        self.init_lr = init
        self.decay_factor = (self.peak - cfg.end_learning_rate) / (cfg.total_num_update - cfg.warmup_updates)
        self.lr = init
        self.optimizer.set_lr(self.lr)

    def state_dict(self):
        return {"lr": self.lr}

    def load_state_dict(self, state_dict):
        if "lr" in state_dict:
            self.lr = state_dict["lr"]

    def step(self, epoch, val_loss=None):
        super().step(epoch, val_loss)
        return self.optimizer.get_lr()

    def learning_rate(self, num_updates: int) -> float:
        cfg = self.cfg
        if num_updates <= cfg.warmup_updates:
            return self.init_lr + num_updates**cfg.warmup_power * self.warmup_factor
        if num_updates >= cfg.total_num_update:
            return cfg.end_learning_rate
        return self.decay_factor * (cfg.total_num_update - num_updates) + cfg.end_learning_rate

    def step_update(self, num_updates):
        self.lr = self.learning_rate(num_updates)
        self.optimizer.set_lr(self.lr)
        return self.lr
