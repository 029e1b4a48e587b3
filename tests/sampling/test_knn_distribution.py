"""KNNSampler draws x approximately from p(x | z) and independently of the anchor's own x."""

from __future__ import annotations

import torch

from miestim.sampling import KNNSampler

N = 20_000


def _ols(y: torch.Tensor, z: torch.Tensor) -> tuple[float, torch.Tensor]:
    zc, yc = z - z.mean(), y - y.mean()
    slope = float((zc * yc).sum() / (zc * zc).sum())
    return slope, yc - slope * zc


def test_gaussian_conditional_resampling():
    # z ~ N(0, 1), x = z + 0.5 eps, so p(x | z) = N(z, 0.25). The partner of anchor i is J,
    # a random one of its k = 5 nearest bank neighbours:
    #     x_J = z_i + (z_J - z_i) + 0.5 eps_J.
    # Regressing x_J on z_i over all N anchors:
    # * sampling error: the noise 0.5 eps_J gives slope SE 0.5 / sqrt(N) = 0.0035; a bank row
    #   is reused as partner c ~ Poisson(1) times (E c^2 = 2), inflating SEs by at most sqrt(2):
    #   slope SE <= 0.005; residual-variance SE <= 0.25 sqrt(2 / N) sqrt(2) = 0.0035; the
    #   correlation of two independent residuals has SE <= sqrt(2 / N) = 0.01.
    # * k-NN smoothing bias: in 1-D the 5 nearest of 20,000 points lie within about
    #   k / (2 N p(z)) ~ 3e-4 of z_i at the centre; only the few extreme anchors (|z| > 3.5)
    #   have offsets ~0.1, so E[(z_J - z_i)^2] < 1e-3 (checked below). That bias enters the
    #   slope and the residual variance (0.25 + Var(z_J - z_i)) at the 1e-3 level.
    # Tolerances: slope 0.03 and residual variance 0.02 (>= 5 SE + bias); correlation 0.05.
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(N, generator=gen, dtype=torch.float64)
    x = z + 0.5 * torch.randn(N, generator=gen, dtype=torch.float64)
    sampler = KNNSampler(z, k=5, seed=1)
    assert not sampler.discrete_
    anchors = torch.arange(N)
    partner = sampler.sample_indices(anchors, generator=torch.Generator().manual_seed(2))
    assert float(((z[partner] - z) ** 2).mean()) < 1e-3  # the smoothing bias bound used above

    x_tilde = sampler.product_sample(x.unsqueeze(1), anchors, generator=torch.Generator().manual_seed(2))[:, 0]
    slope, residual = _ols(x_tilde, z)
    assert abs(slope - 1.0) < 0.03
    assert abs(float(residual.var()) - 0.25) < 0.02

    # Conditional independence of x_tilde and the anchor's own x given z: partial correlation ~ 0.
    _, own_residual = _ols(x, z)
    partial = float(torch.corrcoef(torch.stack([residual, own_residual]))[0, 1])
    assert abs(partial) < 0.05
    # Control: pairing each anchor with its own x (what self-pairing would do) is caught.
    assert float(torch.corrcoef(torch.stack([own_residual, own_residual]))[0, 1]) > 0.99


def test_query_mode_gaussian_conditional_mean():
    # Disjoint-bank mode: anchors from another split. Same reasoning as above with a bank of
    # n = 5,000 and 5,000 query anchors: slope SE <= 0.5 / sqrt(n) * sqrt(2) = 0.01 -> tolerance
    # 0.05; residual-variance SE <= 0.25 sqrt(2 / n) sqrt(2) = 0.007 -> tolerance 0.035; the
    # smoothing offsets (~k / (2 n p(z)) ~ 1e-3 at the centre) stay far below both.
    n = 5000
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(n, generator=gen, dtype=torch.float64)
    x = z + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)
    z_query = torch.randn(5000, generator=gen, dtype=torch.float64)
    sampler = KNNSampler(z, k=5, seed=4)
    x_tilde = x[sampler.sample_for(z_query)]
    slope, residual = _ols(x_tilde, z_query)
    assert abs(slope - 1.0) < 0.05
    assert abs(float(residual.var()) - 0.25) < 0.035
