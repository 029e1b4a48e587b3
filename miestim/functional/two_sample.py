r"""KL readouts from a classifier's logits on two samples (joint vs reference).

A classifier trained with balanced classes to tell samples of :math:`p` (label 1) from
samples of :math:`q` (label 0) has, at its optimum, the logit
:math:`l(v) = \log p(v)/q(v)`. These functions turn its logits on held-out samples of
both distributions into estimates of :math:`\mathrm{KL}(p \,\|\, q)` in nats — for CMINE
:math:`p = p(x,y,z)`, :math:`q = p(x|z)p(y|z)p(z)` and the KL is :math:`I(X;Y|Z)`.

Unlike the score-matrix bounds of this package, the two samples are given separately:
``joint`` holds the logits of the ``n`` joint samples and ``product`` the logits of the
``m`` reference samples (any shape; all entries are used). Every function is computed in
log space and stays finite for finite logits; :func:`clip_logits` bounds the logits first
so that every readout is bounded.
"""

from __future__ import annotations

import math

import torch

from .._reduction import fixed_order_logsumexp, fixed_order_mean
from .._validation import check_probability
from ._utils import bounded_exp

__all__ = ["clip_logits", "logit_bound", "two_sample_dv_bound", "two_sample_mean_log_ratio", "two_sample_nwj_bound"]


def _check_logits(logits: torch.Tensor, *, name: str) -> torch.Tensor:
    """Check a tensor of logits; float16 / bfloat16 are upcast to float32 (as the score-matrix bounds do)."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor of logits; got {type(logits).__name__}.")
    if logits.numel() == 0:
        raise ValueError(f"{name} must hold at least one logit; got shape {tuple(logits.shape)}.")
    return logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits


def logit_bound(tau: float) -> float:
    r"""The largest logit magnitude allowed by probability clipping at :math:`\tau`: :math:`\log\frac{1-\tau}{\tau}`.

    Raises:
        ValueError: ``tau`` outside (0, 0.5).
    """
    tau = check_probability(tau, name="tau", open_low=True, open_high=True)
    if tau >= 0.5:
        raise ValueError(f"tau must lie in (0, 0.5) (the classifier probability is clipped to [tau, 1 - tau]); got {tau}.")
    return math.log((1.0 - tau) / tau)


def clip_logits(logits: torch.Tensor, tau: float = 1e-4) -> torch.Tensor:
    r"""Clip a classifier's probability :math:`\sigma(l)` to :math:`[\tau, 1-\tau]`, i.e. the logit to :math:`\pm\log\frac{1-\tau}{\tau}`.

    .. math::  \tilde l = \min\big(\max(l, -c), c\big), \qquad c = \log\frac{1-\tau}{\tau}

    With the default :math:`\tau = 10^{-4}`, :math:`c \approx 9.21` nats. Entries beyond
    the clip get zero gradient.

    Example:
        >>> import torch
        >>> clip_logits(torch.tensor([-1e4, 0.5, 1e4]), tau=1e-4)
        tensor([-9.2102,  0.5000,  9.2102])
    """
    c = logit_bound(tau)
    return logits.clamp(min=-c, max=c)


def two_sample_dv_bound(joint: torch.Tensor, product: torch.Tensor) -> torch.Tensor:
    r"""Donsker-Varadhan readout of :math:`\mathrm{KL}(p\|q)` from logits on samples of each.

    .. math::

        \hat I_{DV} = \frac1n\sum_{i} l(v_i) - \log \frac1m \sum_{j} e^{l(\tilde v_j)},
        \qquad v_i \sim p,\ \tilde v_j \sim q

    A lower bound on the KL (in expectation over :math:`q`'s samples, up to the
    log-mean-exp's Jensen bias) for any logit function.

    Args:
        joint: logits of the samples of :math:`p` (any shape, ``n`` entries).
        product: logits of the samples of :math:`q` (any shape, ``m`` entries).

    Returns:
        Scalar tensor, nats; differentiable.

    Example:
        >>> import torch
        >>> round(float(two_sample_dv_bound(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0, 0.0]))), 6)
        1.0
    """
    joint = _check_logits(joint, name="joint")
    product = _check_logits(product, name="product")
    product = product.flatten()
    return fixed_order_mean(joint) - (fixed_order_logsumexp(product) - math.log(product.numel()))


def two_sample_nwj_bound(joint: torch.Tensor, product: torch.Tensor) -> torch.Tensor:
    r"""NWJ readout of :math:`\mathrm{KL}(p\|q)` for a classifier logit :math:`l \approx \log p/q`.

    NWJ with the critic :math:`T = l + 1` (whose optimum is :math:`1 + \log p/q`):

    .. math::

        \hat I_{NWJ} = \frac1n\sum_i T(v_i) - \frac1{e}\,\frac1m\sum_j e^{T(\tilde v_j)}
        = 1 + \frac1n\sum_i l(v_i) - \frac1m\sum_j e^{l(\tilde v_j)}

    The mean of exponentials is formed in log space and exponentiated once with
    :func:`~miestim.functional._utils.bounded_exp`, so the readout is finite for finite logits.
    Always :math:`\le` :func:`two_sample_dv_bound` on the same logits (since :math:`\log u \le u - 1`).

    Args:
        joint, product: logits as in :func:`two_sample_dv_bound`.

    Returns:
        Scalar tensor, nats; differentiable.

    Example:
        >>> import torch
        >>> round(float(two_sample_nwj_bound(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.0]))), 6)
        1.0
    """
    joint = _check_logits(joint, name="joint")
    product = _check_logits(product, name="product")
    product = product.flatten()
    return 1.0 + fixed_order_mean(joint) - bounded_exp(fixed_order_logsumexp(product) - math.log(product.numel()))


def two_sample_mean_log_ratio(joint: torch.Tensor) -> torch.Tensor:
    r"""Plug-in readout: the mean logit on samples of :math:`p`, :math:`\frac1n\sum_i l(v_i) \approx \mathbb E_p \log\frac pq`.

    Not a bound: it is exact only for a calibrated classifier, but it has by far the
    smallest variance of the three readouts (no exponential of the logits).

    Example:
        >>> import torch
        >>> float(two_sample_mean_log_ratio(torch.tensor([1.0, 3.0])))
        2.0
    """
    joint = _check_logits(joint, name="joint")
    return fixed_order_mean(joint)
