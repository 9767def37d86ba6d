"""Multi-head damped exponential moving average (Mega's "move" sub-layer).

Each of the D channels is expanded to N EMA dims. With ``p = sigmoid(delta)``, ``q = 1 - p * sigmoid(alpha)``
(all ``[E, N, 1]``), the hidden state and output are

    h_t = q * h_{t-1} + p * beta * x_t          (per channel d and EMA dim n)
    y_t = sum_n gamma_n * sqrt(1/N) * h_t,n

which unrolls to a causal convolution ``y = k * x`` with kernel ``k[d, l] = sum_n p beta gamma sqrt(1/N) q^l``.
``truncation = K`` keeps only the first K taps. Bidirectional EMAs (encoders) have ``E = 2D`` rows: rows ``[0, D)``
filter forwards, rows ``[D, 2D)`` backwards, and the lag-0 tap is counted by both.
The module returns ``silu(y + omega * x)``; padded inputs are zeroed before the convolution.

Full sequences use an FFT convolution in float32 (``fft_conv``; its backward keeps only x). Incremental decoding
(unidirectional only) keeps ``h`` and costs O(D*N) per token; with truncation it also keeps the last K inputs and a
delayed state ``h_{t-K}`` so that ``y_t = sum_n c_n (h_t - q^K h_{t-K})`` equals the truncated convolution exactly.
``truncate_incremental=False`` reproduces the original code, whose incremental path ignored truncation.
Nothing derived from the parameters is cached, so ``load_state_dict``/``.to()`` can never leave a stale kernel.
"""

import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mega_plugin.modules.ema_kernel import decayed_sum, vandermonde_kernel
from mega_plugin.modules.fft_conv import fft_causal_conv, fft_two_sided_conv
from mega_plugin.modules.incremental import IncrementalStateMixin, State


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half/bfloat16/float32 inputs, float64 for float64."""
    return torch.promote_types(dtype, torch.float32)


class MultiHeadEMA(nn.Module, IncrementalStateMixin):
    _state_names = ("ema_state",)

    def __init__(
        self,
        embed_dim: int,
        ndim: int = 2,
        bidirectional: bool = False,
        truncation: Optional[int] = None,
        truncate_incremental: bool = True,
    ):
        super().__init__()
        if truncation is not None and truncation < 0:
            raise ValueError(f"truncation must be None or >= 0, got {truncation}")
        self.embed_dim = embed_dim
        self.ndim = ndim
        self.bidirectional = bidirectional
        self.truncation = truncation
        self.truncate_incremental = truncate_incremental
        self.scale = math.sqrt(1.0 / ndim)
        rows = 2 * embed_dim if bidirectional else embed_dim
        self.delta = nn.Parameter(torch.empty(rows, ndim, 1))
        self.alpha = nn.Parameter(torch.empty(rows, ndim, 1))
        self.beta = nn.Parameter(torch.empty(rows, ndim, 1))
        self.gamma = nn.Parameter(torch.empty(rows, ndim))
        self.omega = nn.Parameter(torch.empty(embed_dim))
        self._init_incremental_state()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            nn.init.normal_(self.delta, mean=0.0, std=0.2)
            nn.init.normal_(self.alpha, mean=0.0, std=0.2)
            signs = torch.ones(self.ndim, 1)
            signs[1::2] = -1
            nn.init.normal_(self.beta, mean=0.0, std=0.02)
            self.beta.add_(signs)
            nn.init.normal_(self.gamma, mean=0.0, std=1.0)
            nn.init.normal_(self.omega, mean=0.0, std=1.0)

    def extra_repr(self) -> str:
        return (
            f"edim={self.embed_dim}, ndim={self.ndim}, bidirectional={self.bidirectional}, "
            f"truncation={self.truncation}"
        )

    # -- parameters in (at least) float32 ----------------------------------------------------------------------
    def coefficients(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ``(input weight p*beta, decay q, output weight gamma*scale)``, each ``[E, N]``, >= float32."""
        dtype = compute_dtype(self.delta.dtype)
        p = torch.sigmoid(self.delta.to(dtype))
        q = 1.0 - p * torch.sigmoid(self.alpha.to(dtype))
        return (p * self.beta.to(dtype)).squeeze(-1), q.squeeze(-1), self.gamma.to(dtype) * self.scale

    def kernel(self, length: int, start: int = 0) -> torch.Tensor:
        """Taps ``start .. start+length-1`` of the EMA kernel ``[E, length]`` (>= float32)."""
        b, q, c = self.coefficients()
        return vandermonde_kernel(b * c, torch.log(q), start, length)

    # -- full sequences --------------------------------------------------------------------------------------
    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """EMA of x ``[L, B, D]`` with the (truncated) kernel, non-incremental: ``[L, B, D]``, >= float32 (x itself is
        kept for the backward in its own dtype; the FFTs run on a transposed copy, see ``fft_conv``)."""
        length = x.size(0)
        dtype = torch.promote_types(compute_dtype(x.dtype), compute_dtype(self.delta.dtype))
        taps = length if self.truncation is None else min(self.truncation, length)
        if taps == 0:
            return x.new_zeros(x.shape, dtype=dtype)
        k = self.kernel(taps).to(dtype)
        if not self.bidirectional:
            return fft_causal_conv(x, k, time_major=True)
        return fft_two_sided_conv(x, k[: self.embed_dim], k[self.embed_dim :], time_major=True)

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: Optional[torch.Tensor] = None,
        incremental_state: Optional[State] = None,
    ) -> torch.Tensor:
        """x ``[L, B, D]``, padding_mask bool ``[B, L]`` (True = pad) -> ``silu(y + omega * x)`` ``[L, B, D]``."""
        return F.silu(self.pre_activation(x, padding_mask, incremental_state))

    def pre_activation(
        self,
        x: torch.Tensor,
        padding_mask: Optional[torch.Tensor] = None,
        incremental_state: Optional[State] = None,
    ) -> torch.Tensor:
        """``y + omega * x`` ``[L, B, D]``, the output before its silu (for a caller that recomputes the silu)."""
        residual = x * self.omega
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.t().unsqueeze(-1), 0.0)
        if incremental_state is not None:
            if self.bidirectional:
                raise ValueError("a bidirectional EMA cannot be run incrementally")
            y = self.step(x.permute(1, 2, 0).to(compute_dtype(x.dtype)), incremental_state).permute(2, 0, 1)
        else:
            y = self.convolve(x)
        return residual + y.to(x.dtype)

    # -- incremental decoding --------------------------------------------------------------------------------
    def _scan(
        self, x: torch.Tensor, h0: Optional[torch.Tensor], out_weight: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Run the recurrence over x ``[B, D, n]`` from state h0 ``[B, D, N]``.

        Returns ``(y [B, D, n], h_n [B, D, N])`` with ``y_i = sum_n out_weight * h_i``.
        """
        b, q, _ = self.coefficients()
        n = x.size(-1)
        if n == 1:
            h = b * x  # [B, D, N]
            if h0 is not None:
                h = h + q * h0
            return torch.einsum("bdn,dn->bd", h, out_weight).unsqueeze(-1), h
        log_q = torch.log(q)
        y = fft_causal_conv(x, vandermonde_kernel(b * out_weight, log_q, 0, n))
        h = decayed_sum(x, b, log_q)
        if h0 is not None:  # carry of the previous state: sum_n out_weight q^(i+1) h0
            batch, dim, ndim = h0.shape
            carry_weights = (h0 * (out_weight * q)).reshape(batch * dim, ndim)
            carry = vandermonde_kernel(carry_weights, log_q.repeat(batch, 1), 0, n)
            y = y + carry.reshape(batch, dim, n)
            h = h + torch.exp(n * log_q) * h0
        return y, h

    def step(self, x: torch.Tensor, incremental_state: State) -> torch.Tensor:
        """Consume x ``[B, D, n]`` (>= float32, pads zeroed) after the stored state; any n >= 1."""
        saved = self.get_incremental_state(incremental_state, "ema_state") or {}
        _, q, c = self.coefficients()
        y, h = self._scan(x, saved.get("prev_state"), c)
        new_state = {"prev_state": h}
        taps = self.truncation if self.truncate_incremental else None
        if taps is not None:
            y = y - self._truncated_part(x, saved, new_state, taps, q, c)
        self.set_incremental_state(incremental_state, "ema_state", new_state)
        return y

    def _truncated_part(self, x, saved, new_state, taps, q, c) -> torch.Tensor:
        """Contribution of lags >= taps: ``sum_n c q^taps h_{t-taps}``, via a delayed copy of the EMA."""
        n = x.size(-1)
        start = saved.get("num_steps", 0)
        new_state["num_steps"] = start + n
        if taps == 0:  # no EMA at all: cancel the whole output
            return self._scan(x, saved.get("prev_state"), c)[0]
        history = saved.get("prev_inputs")
        if history is None:
            history = x.new_zeros(x.size(0), x.size(1), taps)
        if n == 1:  # O(D) ring-buffer update
            slot = start % taps
            delayed_inputs = history[..., slot : slot + 1].clone() if start >= taps else torch.zeros_like(x)
            history[..., slot] = x[..., 0]
        else:
            positions = torch.arange(start - taps, start + n, device=x.device)
            slots = positions % taps
            past = history[..., slots[:taps]] * (positions[:taps] >= 0)
            window = torch.cat([past, x], dim=-1)  # inputs at positions start-taps .. start+n-1
            delayed_inputs = window[..., :n]
            history[..., slots[-taps:]] = window[..., -taps:]
        new_state["prev_inputs"] = history
        if start + n <= taps:  # every delayed input is before the sequence start
            return torch.zeros_like(x)
        y_old, h_old = self._scan(delayed_inputs, saved.get("prev_delayed_state"), c * q.pow(taps))
        new_state["prev_delayed_state"] = h_old
        return y_old
