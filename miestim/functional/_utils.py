"""Shared helpers for bounds on a score matrix ``S[i, j] = f(x_i, y_j)``."""

from __future__ import annotations

import math

import torch

from .._reduction import fixed_order_logsumexp
from .._validation import check_positive_float


def check_scores(scores: torch.Tensor) -> int:
    """Check ``scores`` is a square float matrix with at least 2 rows; return n."""
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor of shape (n, n); got {type(scores).__name__}.")
    if not scores.is_floating_point():
        raise TypeError(f"scores must have a floating dtype; got {scores.dtype}.")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square matrix (n, n) with joint pairs on the diagonal; got shape {tuple(scores.shape)}.")
    if scores.shape[0] < 2:
        raise ValueError(f"scores needs n >= 2 (off-diagonal pairs estimate the product of marginals); got n={scores.shape[0]}.")
    return scores.shape[0]


#: Half-precision score dtypes: the bounds compute in float32 for them (upcast), since float16
#: overflows at 65504 (a sum of n^2 softplus terms, or bounded_exp's threshold) and both lose digits.
_UPCAST = (torch.float16, torch.bfloat16)


def as_scores(scores: torch.Tensor) -> torch.Tensor:
    """Check ``scores`` like :func:`check_scores` and upcast float16 / bfloat16 to float32 (differentiably)."""
    check_scores(scores)
    return scores.float() if scores.dtype in _UPCAST else scores


def check_log_baseline(log_baseline: torch.Tensor | float, n: int, like: torch.Tensor) -> torch.Tensor:
    """Broadcast a log-baseline a(y_j) given per column (shape (n,)) or as a scalar to shape (n,)."""
    if not isinstance(log_baseline, torch.Tensor):
        log_baseline = torch.tensor(float(log_baseline), dtype=torch.float64)  # not float32: a float64 bound keeps its digits
    log_baseline = log_baseline.to(device=like.device, dtype=like.dtype)
    if log_baseline.ndim == 0:
        return log_baseline.expand(n)
    if log_baseline.shape != (n,):
        raise ValueError(f"log_baseline must be a scalar or have shape ({n},), one value per y_j; got {tuple(log_baseline.shape)}.")
    return log_baseline


def offdiagonal(scores: torch.Tensor) -> torch.Tensor:
    """The scores with the diagonal (joint pairs) replaced by ``-inf``, so exp() ignores it."""
    eye = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    return scores.masked_fill(eye, float("-inf"))


def offdiagonal_logmeanexp(scores: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \frac{1}{n(n-1)} \sum_{i \ne j} e^{S_{ij}}`, computed stably."""
    n = scores.shape[0]
    return fixed_order_logsumexp(offdiagonal(scores)) - math.log(n * (n - 1))


def check_clip(clip: float) -> float:
    return check_positive_float(clip, name="clip")


def bounded_exp(log_value: torch.Tensor) -> torch.Tensor:
    r"""``exp`` that stays finite: exact below a dtype-dependent threshold :math:`T`, linear above it.

    .. math::  \operatorname{bexp}(u) = e^{\min(u, T)}\,(1 + \max(u - T, 0)) \le e^u

    With :math:`T = \log(\text{float max}) - 20`, a term like NWJ's partition function
    stays finite (hugely negative bounds remain representable) and keeps a non-zero
    gradient that pushes runaway scores back down, instead of producing ``inf``/``nan``.
    """
    threshold = math.log(torch.finfo(log_value.dtype).max) - 20.0
    excess = torch.clamp(log_value - threshold, min=0.0)
    return torch.exp(torch.clamp(log_value, max=threshold)) * (1.0 + excess)
