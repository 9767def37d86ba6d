"""``--lr-scheduler linear_decay`` of the original Mega recipes.

With peak = ``--lr`` (a single value), init = ``--warmup-init-lr`` (default: the peak without warm-up, else
clamped to >= 0), W = ``--warmup-updates``, T = ``--total-num-update``, end = ``--end-learning-rate``:

    lr(n) = init + n^p * (peak - init) / W^p        for n <= W   (p = --warmup-power, an int)
          = end + (T - n) * (peak - end) / (T - W)   for W < n < T
          = end                                      for n >= T

The learning rate only changes per update, never at epoch ends. State: ``{'lr': current lr}``.
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
    end_learning_rate: float = field(default=0.0, metadata={"help": "learning rate from --total-num-update on"})
    total_num_update: int = field(default=1000000, metadata={"help": "update at which the decay ends"})
    lr: List[float] = II("optimization.lr")


@register_lr_scheduler("linear_decay", dataclass=LinearDecayConfig)
class LinearDecaySchedule(FairseqLRScheduler):
    def __init__(self, cfg: LinearDecayConfig, optimizer):
        super().__init__(cfg, optimizer)
        if len(cfg.lr) > 1:
            raise ValueError(f"linear_decay takes a single --lr, got {list(cfg.lr)}")
        peak, warmup = cfg.lr[0], cfg.warmup_updates
        if warmup < 0:
            raise ValueError(f"--warmup-updates must not be negative, got {warmup}")
        if warmup == 0:
            if cfg.warmup_init_lr >= 0:
                raise ValueError("--warmup-init-lr needs --warmup-updates > 0")
            init, self.warmup_factor = peak, 0.0
        else:
            if cfg.warmup_init_lr >= peak:
                raise ValueError(f"--warmup-init-lr ({cfg.warmup_init_lr}) must be below the peak --lr ({peak})")
            init = max(cfg.warmup_init_lr, 0.0)
            self.warmup_factor = (peak - init) / warmup**cfg.warmup_power
        if cfg.total_num_update == warmup:
            raise ValueError("--total-num-update must differ from --warmup-updates (the decay would have no length)")
        self.init_lr = init
        self.decay_factor = (peak - cfg.end_learning_rate) / (cfg.total_num_update - warmup)
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
