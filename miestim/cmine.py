r"""CMINE: conditional MI from a classifier of joint versus k-NN product triples."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._reduction import fixed_order_mean
from ._validation import check_choice, check_positive_int
from .critics import mlp
from .functional.two_sample import clip_logits, logit_bound, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound

__all__ = ["CMINE", "READOUTS"]

#: Readouts of a trained CMINE classifier, all in nats: Donsker-Varadhan (default), NWJ, plug-in mean log-ratio.
READOUTS = ("dv", "nwj", "mean_log_ratio")


class CMINE(nn.Module):
    r"""Classifier-based conditional MI estimator (CMINE with k-NN product sampling).

    An MLP :math:`l_\theta([x; y; z])` is trained as a classifier of *joint* triples
    :math:`(x_i, y_i, z_i) \sim p(x, y, z)` (label 1) against *product* triples
    :math:`(\tilde x_i, y_i, z_i)`, where :math:`\tilde x_i` is the ``x`` of a k-nearest
    neighbour of :math:`z_i` in ``z``-space (see :class:`miestim.sampling.KNNSampler`), so
    that :math:`\tilde x_i \,\dot\sim\, p(x \mid z_i)` independently of :math:`y_i`. With
    balanced classes and binary cross-entropy the optimal logit is the log density ratio

    .. math::

        l^\ast(x, y, z) = \log \frac{p(x, y, z)}{p(x \mid z)\, p(y \mid z)\, p(z)},
        \qquad I(X;Y \mid Z) = \mathbb E_{p(x,y,z)}\big[l^\ast\big].

    The classifier's probability :math:`\sigma(l)` is clipped to :math:`[\tau, 1-\tau]`,
    i.e. the logit to :math:`\pm c` with :math:`c = \log\frac{1-\tau}{\tau}` (9.21 nats for
    :math:`\tau = 10^{-4}`), before any readout, so every estimate is bounded. With
    :math:`\tilde l` the clipped logits on :math:`n` joint and :math:`m` product triples:

    .. math::

        \hat I_{DV} &= \tfrac1n\textstyle\sum_i \tilde l_i - \log \tfrac1m\sum_j e^{\tilde l_j}
            \qquad \text{(default, a lower bound)}\\
        \hat I_{NWJ} &= 1 + \tfrac1n\textstyle\sum_i \tilde l_i - \tfrac1m\sum_j e^{\tilde l_j}
            \qquad (\le \hat I_{DV})\\
        \hat I_{\mathrm{MLR}} &= \tfrac1n\textstyle\sum_i \tilde l_i
            \qquad \text{(plug-in mean log-ratio)}

    so :math:`|\hat I| \le 2c` for DV and the mean log-ratio. The math lives in
    :mod:`miestim.functional.two_sample`; this module only scores triples and calls it.

    Shapes: ``x`` (n, x_dim), ``y`` (n, y_dim), ``z`` (n, z_dim); ``x_product`` (n, x_dim)
    — row i is paired with ``y[i]``, ``z[i]`` — or (n, m, x_dim) for ``m`` product draws
    per anchor.

    Args:
        x_dim, y_dim, z_dim: input dimensions.
        hidden: hidden widths of the MLP on ``[x; y; z]`` (default ``(256, 256)``).
        activation: ``"relu"`` (default), ``"elu"``, ``"gelu"``, ``"tanh"``, ``"silu"``, ``"leaky_relu"``.
        tau: probability clip, in (0, 0.5) (default 1e-4).

    Attributes:
        net: the MLP ``x_dim + y_dim + z_dim -> hidden... -> 1``.
        logit_clip: :math:`c = \log\frac{1-\tau}{\tau}`.

    Raises:
        ValueError, TypeError: a dimension is not a positive integer, an unknown
            activation, or ``tau`` outside (0, 0.5).

    References:
        S. Molavipour, G. Bassi, M. Skoglund, "Neural Estimators for Conditional Mutual
        Information Using Nearest Neighbors Sampling", IEEE Trans. Signal Process. 69 (2021).
        S. Mukherjee, H. Asnani, S. Kannan, "CCMI: Classifier based Conditional Mutual
        Information Estimation", UAI 2019.

    Example:
        >>> import torch
        >>> from miestim import CMINE
        >>> torch.manual_seed(0) and None
        >>> cmine = CMINE(1, 1, 1, hidden=(16,))
        >>> x, y, z = torch.randn(8, 1), torch.randn(8, 1), torch.randn(8, 1)
        >>> loss = cmine.loss(x, y, z, x.roll(1, dims=0))   # train on this (balanced BCE)
        >>> estimate = cmine(x, y, z, x.roll(1, dims=0))   # DV estimate in nats, differentiable
        >>> estimate.shape, bool(loss > 0)
        (torch.Size([]), True)
    """

    name = "cmine"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        z_dim: int,
        *,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        tau: float = 1e-4,
    ) -> None:
        super().__init__()
        self.x_dim = check_positive_int(x_dim, name="x_dim")
        self.y_dim = check_positive_int(y_dim, name="y_dim")
        self.z_dim = check_positive_int(z_dim, name="z_dim")
        self.logit_clip = logit_bound(tau)
        self.tau = float(tau)
        self.net = mlp(self.x_dim + self.y_dim + self.z_dim, 1, hidden=hidden, activation=activation)

    # ------------------------------------------------------------------ scoring
    def _check(self, y: torch.Tensor, z: torch.Tensor, *, x: torch.Tensor | None = None, x_product: torch.Tensor | None = None) -> None:
        """Check the shapes of a batch of triples against the dimensions this module was built for."""
        named = [("y", y, self.y_dim), ("z", z, self.z_dim)] + ([("x", x, self.x_dim)] if x is not None else [])
        for name, value, dim in named:
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor of shape (n, {dim}); got {type(value).__name__}.")
            if value.ndim != 2 or value.shape[1] != dim:
                raise ValueError(f"{name} must have shape (n, {dim}) for this CMINE; got {tuple(value.shape)}.")
        rows = {name: value.shape[0] for name, value, _ in named}
        if len(set(rows.values())) > 1:
            raise ValueError(f"x, y and z must have the same number of rows; got {rows}.")
        if x_product is not None:
            if not isinstance(x_product, torch.Tensor):
                raise TypeError(f"x_product must be a torch.Tensor; got {type(x_product).__name__}.")
            if x_product.ndim not in (2, 3) or x_product.shape[0] != y.shape[0] or x_product.shape[-1] != self.x_dim:
                raise ValueError(
                    f"x_product must have shape (n, {self.x_dim}) or (n, m, {self.x_dim}) with n = {y.shape[0]} "
                    f"(row i is paired with y[i], z[i]); got {tuple(x_product.shape)}."
                )

    def logits(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""Raw (unclipped) classifier logits :math:`l([x_i; y_i; z_i])`, shape (n,)."""
        self._check(y, z, x=x)
        return self.net(torch.cat([x, y, z], dim=1)).squeeze(-1)

    def product_logits(self, x_product: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r"""Raw logits of the product triples :math:`(\tilde x_i, y_i, z_i)`: shape (n,) or (n, m) like ``x_product``."""
        self._check(y, z, x_product=x_product)
        if x_product.ndim == 2:
            return self.net(torch.cat([x_product, y, z], dim=1)).squeeze(-1)
        n, m = x_product.shape[:2]
        yz = torch.cat([y, z], dim=1).unsqueeze(1).expand(n, m, self.y_dim + self.z_dim)
        return self.net(torch.cat([x_product, yz], dim=2)).squeeze(-1)

    # ------------------------------------------------------------------ training
    def loss(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, x_product: torch.Tensor) -> torch.Tensor:
        r"""Balanced binary cross-entropy of joint (label 1) versus product (label 0) triples.

        .. math::

            \mathcal L = \tfrac12\Big(\tfrac1n\textstyle\sum_i \operatorname{softplus}(-l_i)
                + \tfrac1m\sum_j \operatorname{softplus}(\tilde l_j)\Big)

        on the *raw* logits (clipping is a readout device only, so it never stalls training).
        Its minimiser is the log density ratio. Scalar tensor (nats per triple).
        """
        joint = self.logits(x, y, z)
        product = self.product_logits(x_product, y, z)
        return 0.5 * (fixed_order_mean(F.softplus(-joint)) + fixed_order_mean(F.softplus(product)))

    # ------------------------------------------------------------------ readouts
    def estimate(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, x_product: torch.Tensor | None = None, *, readout: str = "dv"
    ) -> torch.Tensor:
        r"""The CMI readout on the given triples, in nats, from clipped logits (see the class docstring).

        Args:
            x, y, z: joint triples.
            x_product: product draws paired with ``y``, ``z`` (required for ``"dv"`` and ``"nwj"``).
            readout: ``"dv"`` (default), ``"nwj"`` or ``"mean_log_ratio"``.

        Returns:
            Scalar tensor, nats; differentiable (zero gradient where a logit is clipped).

        Raises:
            ValueError: unknown ``readout``; ``x_product`` missing for DV / NWJ; bad shapes.
        """
        readout = check_choice(readout, name="readout", choices=READOUTS)
        joint = clip_logits(self.logits(x, y, z), self.tau)
        if readout == "mean_log_ratio":
            return two_sample_mean_log_ratio(joint)
        if x_product is None:
            raise ValueError(f"readout={readout!r} needs x_product (product draws of x given z); only 'mean_log_ratio' does not.")
        product = clip_logits(self.product_logits(x_product, y, z), self.tau)
        return (two_sample_dv_bound if readout == "dv" else two_sample_nwj_bound)(joint, product)

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, x_product: torch.Tensor) -> torch.Tensor:
        r"""The DV estimate :math:`\hat I_{DV}` of :math:`I(X;Y|Z)` on the batch, in nats, differentiable.

        Its value is the estimate (on the classifier's clipped logits), so it can enter a
        model's objective directly: maximise it (``loss = -cmine(x, y, z, x_product)``) to
        make upstream encoders share more information given ``z``, minimise it to remove
        it. To train the classifier itself use :meth:`loss` (balanced cross-entropy), which
        is what :func:`miestim.estimate_cmi` does.
        """
        return self.estimate(x, y, z, x_product, readout="dv")

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, y_dim={self.y_dim}, z_dim={self.z_dim}, tau={self.tau:g}"
