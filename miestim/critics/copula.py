"""The Gaussian-copula critic: the closed-form log density ratio of a Gaussian fitted to normal scores."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ._networks import ConcatCritic, SeparableCritic

__all__ = ["GaussianCopulaCritic", "JointResidualCritic", "SeparableResidualCritic"]


def joined_blocks(x: torch.Tensor, y: torch.Tensor, block_rows: int) -> Iterator[torch.Tensor]:
    """``[x; y]`` in float64, ``block_rows`` rows at a time: sums over rows without a full-size float64 copy."""
    for start in range(0, x.shape[0], block_rows):
        yield torch.cat([x[start : start + block_rows], y[start : start + block_rows]], dim=1).to(torch.float64)


class GaussianCopulaCritic(SeparableCritic):
    r"""The log density ratio of a jointly Gaussian model, as a (fixed) separable critic.

    With :math:`z = [x; y] \sim N(\mu, C)` and :math:`P = C^{-1}`,

    .. math::

        \log\frac{p(x, y)}{p(x)\,p(y)} = \tilde x^\top W \tilde y + a(x) + b(y) + c, \qquad
        W = -P_{xy}, \quad a(x) = -\tfrac12 \tilde x^\top (P_{xx} - C_{xx}^{-1}) \tilde x, \quad
        b(y) = -\tfrac12 \tilde y^\top (P_{yy} - C_{yy}^{-1}) \tilde y,

    :math:`\tilde x = x - \mu_x`, :math:`\tilde y = y - \mu_y`, and
    :math:`c = \tfrac12 \log(\det C_{xx} \det C_{yy} / \det C)`, the model's MI. On the normal
    scores of :func:`~miestim.estimate_mi` (``standardize="rank"``) this is the Gaussian-copula
    critic: exact for any data whose copula is Gaussian, and a normalised density ratio of the
    model by construction, so its mean over joint pairs is the model's held-out MI.

    The critic has no trainable parameters; :meth:`fit` estimates :math:`\mu` and :math:`C`
    (Ledoit-Wolf shrinkage of the covariance, which keeps :math:`C` well conditioned when the
    dimension is large against the sample size). It is a :class:`~miestim.SeparableCritic`
    (embeddings :math:`[W^\top \tilde x;\, a(x);\, 1]` and :math:`[\tilde y;\, 1;\, b(y) + c]`), so it
    scores all pairs of a batch with one matrix product and works with every estimator.

    Args:
        mean: ``(x_dim + y_dim,)`` model mean.
        covariance: ``(x_dim + y_dim, x_dim + y_dim)`` positive-definite model covariance.
        x_dim: how many leading coordinates are ``x``.
    """

    mean_x: torch.Tensor
    mean_y: torch.Tensor
    weight: torch.Tensor
    quad_x: torch.Tensor
    quad_y: torch.Tensor
    model_mi: torch.Tensor

    def __init__(self, mean: torch.Tensor, covariance: torch.Tensor, *, x_dim: int) -> None:
        # Skip SeparableCritic's MLPs: the embeddings here are closed-form.
        torch.nn.Module.__init__(self)
        cov = torch.as_tensor(covariance, dtype=torch.float64)
        d = cov.shape[0]
        if cov.shape != (d, d) or not 0 < x_dim < d:
            raise ValueError(f"covariance must be square with more than x_dim={x_dim} rows; got shape {tuple(cov.shape)}.")
        self.x_dim, self.y_dim, self.quadratic = x_dim, d - x_dim, False
        precision = torch.linalg.inv(cov)
        cxx, cyy = cov[:x_dim, :x_dim], cov[x_dim:, x_dim:]
        logdet = torch.linalg.slogdet
        mi = 0.5 * (logdet(cxx)[1] + logdet(cyy)[1] - logdet(cov)[1])
        mean = torch.as_tensor(mean, dtype=torch.float64)
        for name, value in {
            "mean_x": mean[:x_dim],
            "mean_y": mean[x_dim:],
            "weight": -precision[:x_dim, x_dim:],
            "quad_x": -0.5 * (precision[:x_dim, :x_dim] - torch.linalg.inv(cxx)),
            "quad_y": -0.5 * (precision[x_dim:, x_dim:] - torch.linalg.inv(cyy)),
            "model_mi": mi,
        }.items():
            self.register_buffer(name, value.to(torch.float32))

    @classmethod
    def fit(cls, x: torch.Tensor, y: torch.Tensor, *, block_rows: int = 65536) -> GaussianCopulaCritic:
        r"""Fit the model to ``(n, x_dim)`` and ``(n, y_dim)`` samples with the Ledoit-Wolf covariance, on their device.

        The covariance is the Ledoit-Wolf shrinkage estimate (Ledoit & Wolf, 2004)
        :math:`\hat C = (1 - s) S + s\,\mu I` with :math:`S` the sample covariance, :math:`\mu = \operatorname{tr} S / p`
        and :math:`s = \min(\bar\beta^2, \delta^2) / \delta^2`, :math:`\delta^2 = \lVert S - \mu I \rVert_F^2`,
        :math:`\bar\beta^2 = \frac1{n^2}\sum_k \lVert z_k z_k^\top - S \rVert_F^2`; all sums are
        accumulated in float64 over blocks of ``block_rows`` rows, so no full-size copy is made.
        """
        return cls.candidates(x, y, block_rows=block_rows)["ledoit-wolf"]

    @classmethod
    def candidates(cls, x: torch.Tensor, y: torch.Tensor, *, block_rows: int = 65536) -> dict[str, GaussianCopulaCritic]:
        r"""Models fitted with several covariance estimates, by name, for a choice on validation rows.

        ``"ledoit-wolf"`` (see :meth:`fit`); ``"sample"``, the sample covariance, which the
        shrinkage of Ledoit-Wolf biases badly when the correlation is close to 1 in few
        dimensions (the MI is then :math:`-\frac12 \log \det` of a nearly singular matrix); and
        ``"threshold-c"`` for c = 1, 2, 3: the sample covariance with the cross-block correlations
        :math:`r_{ij}` soft-thresholded at :math:`c / \sqrt n`, which removes most of the held-out loss
        of estimating many cross-correlations that are zero (each costs about :math:`1/(2n)` nats).
        A candidate whose covariance is not positive definite is left out.
        """
        n, dx, p = x.shape[0], x.shape[1], x.shape[1] + y.shape[1]
        if n < 2:
            raise ValueError(f"fitting a Gaussian needs at least 2 samples; got {n}.")
        mean = torch.stack([b.sum(dim=0) for b in joined_blocks(x, y, block_rows)]).sum(dim=0) / n
        scatter = torch.zeros(p, p, dtype=torch.float64, device=x.device)
        fourth = torch.zeros((), dtype=torch.float64, device=x.device)
        for b in joined_blocks(x, y, block_rows):
            centred = b - mean
            scatter += centred.T @ centred
            fourth += (centred.pow(2).sum(dim=1) ** 2).sum()
        sample = scatter / n
        eye = torch.eye(p, dtype=torch.float64, device=x.device)
        mu = torch.trace(sample) / p
        delta = (sample - mu * eye).pow(2).sum()
        beta = (fourth / n - sample.pow(2).sum()) / n
        shrink = float(torch.clamp(beta, min=0.0).minimum(delta) / delta) if float(delta) > 0 else 1.0
        covariances = {"ledoit-wolf": (1 - shrink) * sample + shrink * mu * eye, "sample": sample}
        scale = sample.diagonal().clamp_min(1e-300).sqrt()
        corr = sample / (scale[:, None] * scale[None, :])
        for c in (1, 2, 3):
            cross = corr[:dx, dx:]
            shrunk = corr.clone()
            shrunk[:dx, dx:] = cross.sign() * (cross.abs() - c / n**0.5).clamp_min(0.0)
            shrunk[dx:, :dx] = shrunk[:dx, dx:].T
            covariances[f"threshold-{c}"] = shrunk * (scale[:, None] * scale[None, :])
        out = {}
        for name, cov in covariances.items():
            if bool(torch.linalg.cholesky_ex(cov).info == 0):
                out[name] = cls(mean, cov, x_dim=dx).to(x.device)
        return out

    @property
    def mutual_information(self) -> float:
        """The fitted Gaussian model's own MI in nats (an in-sample plug-in, not a held-out estimate)."""
        return float(self.model_mi)

    def embed(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xc, yc = x - self.mean_x, y - self.mean_y
        a = ((xc @ self.quad_x) * xc).sum(dim=1, keepdim=True)
        b = ((yc @ self.quad_y) * yc).sum(dim=1, keepdim=True) + self.model_mi
        return torch.cat([xc @ self.weight, a, torch.ones_like(a)], dim=1), torch.cat([yc, torch.ones_like(b), b], dim=1)


def _zero_last_layer(net: torch.nn.Sequential) -> None:
    # The residual's output starts at exactly zero, so training starts from the Gaussian solution.
    last = net[-1]
    assert isinstance(last, torch.nn.Linear)
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)


class SeparableResidualCritic(SeparableCritic):
    r"""A Gaussian-copula critic plus a separable neural residual: :math:`f = f_{G} + g(x)^\top h(y)`.

    The last layer of ``g`` starts at zero, so the critic starts as ``anchor`` and training
    only adds what the Gaussian model misses. Still separable (the embeddings are the
    anchor's and the MLPs' side by side).

    Args:
        anchor: the fitted :class:`GaussianCopulaCritic` (not trained further).
        embed_dim, hidden, activation: of the residual's MLPs (see :class:`~miestim.SeparableCritic`).
    """

    def __init__(self, anchor: GaussianCopulaCritic, *, embed_dim: int = 64, hidden: tuple[int, ...] = (256,), activation: str = "silu") -> None:
        super().__init__(anchor.x_dim, anchor.y_dim, embed_dim=embed_dim, hidden=hidden, activation=activation)
        self.anchor = anchor
        _zero_last_layer(self.g)

    def embed(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ax, ay = self.anchor.embed(x, y)
        return torch.cat([ax, self.g(x)], dim=1), torch.cat([ay, self.h(y)], dim=1)


class JointResidualCritic(ConcatCritic):
    r"""A Gaussian-copula critic plus a joint neural residual: :math:`f = f_{G} + \mathrm{MLP}([x; y])`.

    The MLP's last layer starts at zero (training starts from the Gaussian solution). Every
    pair goes through the MLP, so score it on small batches.

    Args:
        anchor: the fitted :class:`GaussianCopulaCritic` (not trained further).
        hidden, activation: of the residual MLP (see :class:`~miestim.ConcatCritic`).
    """

    def __init__(self, anchor: GaussianCopulaCritic, *, hidden: tuple[int, ...] = (64, 64), activation: str = "silu") -> None:
        super().__init__(anchor.x_dim, anchor.y_dim, hidden=hidden, activation=activation)
        self.anchor = anchor
        _zero_last_layer(self.net)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.anchor(x, y) + super().forward(x, y)

    def pair_scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.anchor.pair_scores(x, y) + super().pair_scores(x, y)
