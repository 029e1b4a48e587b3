"""The elliptical critic: the log density ratio of an elliptical law whose radial laws are estimated in one dimension."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from ._networks import Critic

__all__ = ["EllipticalCritic", "tyler_shape"]

#: Points of the grid on which a log radius density is tabulated.
_GRID = 1024
#: Bandwidths by which the grid reaches beyond the smallest and largest training log radius.
_MARGIN = 6.0
#: Lowest log radius relative to the median one: rows at the centre (ties at the median) would give minus infinity.
_FLOOR = 20.0


def tyler_shape(z: torch.Tensor, *, max_iter: int = 200, tol: float = 1e-7) -> torch.Tensor:
    r"""Tyler's M-estimate of the shape matrix of centred rows ``z`` (float64, trace ``d``).

    The fixed point of :math:`\Sigma = \frac{d}{n} \sum_i \frac{z_i z_i^\top}{z_i^\top \Sigma^{-1} z_i}`
    (Tyler, Annals of Statistics 1987): the shape of an elliptical law whatever its radial law,
    defined even where the covariance is not (a Cauchy law), and unchanged by any radial
    reweighting of the rows.
    """
    n, d = z.shape
    z = z.to(torch.float64)
    shape = torch.eye(d, dtype=torch.float64, device=z.device)
    for _ in range(max_iter):
        radii = ((z @ torch.linalg.inv(shape)) * z).sum(dim=1).clamp_min(1e-300)
        new = (z / radii[:, None]).T @ z * (d / n)
        new = new * (d / torch.trace(new))
        done = float((new - shape).abs().max()) < tol
        shape = new
        if done:
            break
    return shape


class _LogRadiusDensity(nn.Module):
    r"""A Gaussian kernel density of the log radius :math:`u = \log r`, tabulated on a grid (linear binning, one convolution).

    Silverman's bandwidth :math:`0.9 \min(s, \mathrm{IQR}/1.34)\, n^{-1/5}`; queries are
    interpolated linearly and clamped to the grid, which reaches :data:`_MARGIN` bandwidths
    beyond the training values.
    """

    start: torch.Tensor
    step: torch.Tensor
    log_density: torch.Tensor

    def __init__(self, u: torch.Tensor) -> None:
        super().__init__()
        u = u.to(torch.float64)
        n = u.numel()
        spread = min(float(u.std()), float(u.quantile(0.75) - u.quantile(0.25)) / 1.34)
        bandwidth = 0.9 * (spread if spread > 0 else 1.0) * n**-0.2
        start, stop = float(u.min()) - _MARGIN * bandwidth, float(u.max()) + _MARGIN * bandwidth
        step = (stop - start) / (_GRID - 1)
        position = (u - start) / step
        left = position.floor().long().clamp(0, _GRID - 2)
        weight = position - left
        counts = torch.zeros(_GRID, dtype=torch.float64, device=u.device)
        counts.index_add_(0, left, 1 - weight)
        counts.index_add_(0, left + 1, weight)
        offsets = torch.arange(-_GRID + 1, _GRID, dtype=torch.float64, device=u.device) * step
        kernel = torch.exp(-0.5 * (offsets / bandwidth) ** 2) / (bandwidth * math.sqrt(2 * math.pi))
        density = torch.nn.functional.conv1d(counts.view(1, 1, -1), kernel.view(1, 1, -1), padding=_GRID - 1).view(-1) / n
        self.register_buffer("start", torch.tensor(start, dtype=torch.float64))
        self.register_buffer("step", torch.tensor(step, dtype=torch.float64))
        self.register_buffer("log_density", density.clamp_min(1e-300).log())

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        position = ((u.to(torch.float64) - self.start) / self.step).clamp(0, _GRID - 1)
        left = position.floor().long().clamp(max=_GRID - 2)
        weight = position - left
        return self.log_density[left] * (1 - weight) + self.log_density[left + 1] * weight


def _log_sphere_area(d: int) -> float:
    """:math:`\\log S_d`, the log surface area of the unit sphere in :math:`\\mathbb{R}^d`: :math:`\\log 2 + \\tfrac d2 \\log\\pi - \\log\\Gamma(\\tfrac d2)`."""
    return math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)


class EllipticalCritic(Critic):
    r"""The log density ratio of an elliptical law of :math:`z = (x, y)`, its radial laws estimated in one dimension.

    An elliptical density of dimension :math:`d` with location :math:`\mu`, shape :math:`\Sigma`
    and radial density :math:`f_R` of the Mahalanobis radius :math:`r = \lVert \Sigma^{-1/2}(z - \mu) \rVert` is
    :math:`p(z) = |\Sigma|^{-1/2} f_R(r) / (S_d\, r^{d - 1})`, :math:`S_d` the area of the unit
    sphere; with :math:`u = \log r` and :math:`f_U` its density,

    .. math::

        \log p(z) = -\tfrac12 \log|\Sigma| + \log f_U(u) - d\,u - \log S_d .

    The marginals of ``x`` and ``y`` are elliptical with the blocks :math:`\Sigma_{xx}, \Sigma_{yy}`, so

    .. math::

        f(x, y) = \log p(x, y) - \log p(x) - \log p(y),

    with each of the three log radius densities a kernel density of the fitting rows' log radii.
    The data decide the radial law: a Student-t, a lognormal scale mixture or a Gaussian are all
    this model. A query farther out than every fitting row is moved in along its ray to the
    largest fitting radius (the density beyond it is not estimated, and moving in keeps the three
    radii of the pair consistent); below the grid the radial terms are flat, as a density is at
    the centre.

    Fitted by :meth:`fit`: the coordinatewise median as location and :func:`tyler_shape` as shape.

    Args:
        location: ``(x_dim + y_dim,)`` centre.
        shape: ``(x_dim + y_dim, x_dim + y_dim)`` positive-definite shape matrix.
        x_dim: how many leading coordinates are ``x``.
        radii: fitting rows' log radii of ``(x, y)``, ``x`` and ``y``, each ``(n,)``.
    """

    location: torch.Tensor
    precision: torch.Tensor
    precision_x: torch.Tensor
    precision_y: torch.Tensor
    max_log_radius: torch.Tensor

    def __init__(self, location: torch.Tensor, shape: torch.Tensor, *, x_dim: int, radii: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> None:
        super().__init__()
        shape = shape.to(torch.float64)
        d = shape.shape[0]
        self.x_dim, self.y_dim = x_dim, d - x_dim
        blocks = (slice(0, d), slice(0, x_dim), slice(x_dim, d))
        logdet = [float(torch.linalg.slogdet(shape[b, b])[1]) for b in blocks]
        dims = (d, self.x_dim, self.y_dim)
        self.constant = -0.5 * (logdet[0] - logdet[1] - logdet[2]) - _log_sphere_area(d) + _log_sphere_area(dims[1]) + _log_sphere_area(dims[2])
        self.register_buffer("location", location.to(torch.float64))
        self.register_buffer("precision", torch.linalg.inv(shape))
        self.register_buffer("precision_x", torch.linalg.inv(shape[: self.x_dim, : self.x_dim]))
        self.register_buffer("precision_y", torch.linalg.inv(shape[self.x_dim :, self.x_dim :]))
        self.register_buffer("max_log_radius", torch.stack([u.max() for u in radii]).to(torch.float64))
        self.densities = nn.ModuleList(_LogRadiusDensity(u) for u in radii)

    @classmethod
    def fit(cls, x: torch.Tensor, y: torch.Tensor) -> EllipticalCritic:
        """Fit the location (coordinatewise median), the shape (:func:`tyler_shape`) and the three log radius densities to paired rows."""
        z = torch.cat([x, y], dim=1).to(torch.float64)
        n, d = z.shape
        if n <= d + 1:
            raise ValueError(f"an elliptical fit needs more rows than columns; got {n} rows of {d} columns.")
        location = z.median(dim=0).values
        centred = z - location
        shape = tyler_shape(centred)
        dx = x.shape[1]
        radii = []
        for block in (slice(0, d), slice(0, dx), slice(dx, d)):
            part = centred[:, block]
            u = 0.5 * ((part @ torch.linalg.inv(shape[block, block])) * part).sum(dim=1).clamp_min(1e-300).log()
            radii.append(u.clamp_min(float(u.median()) - _FLOOR))
        return cls(location, shape, x_dim=dx, radii=(radii[0], radii[1], radii[2]))

    def _radial(self, which: int, u: torch.Tensor) -> torch.Tensor:
        """:math:`\\log f_U(u) - d\\,u` of the joint (0), x (1) or y (2) law, flat below the grid (the density at the centre is finite)."""
        density = cast(_LogRadiusDensity, self.densities[which])
        dim = (self.x_dim + self.y_dim, self.x_dim, self.y_dim)[which]
        return density(u) - dim * u.clamp_min(float(density.start))

    def _scores(self, xc: torch.Tensor, yc: torch.Tensor, *, pairs: bool) -> torch.Tensor:
        dx = self.x_dim
        p = self.precision
        qx = ((xc @ p[:dx, :dx]) * xc).sum(dim=1)
        qy = ((yc @ p[dx:, dx:]) * yc).sum(dim=1)
        rx = ((xc @ self.precision_x) * xc).sum(dim=1)
        ry = ((yc @ self.precision_y) * yc).sum(dim=1)
        if pairs:
            joint = qx + qy + 2 * ((xc @ p[:dx, dx:]) * yc).sum(dim=1)
        else:
            joint = qx[:, None] + qy[None, :] + 2 * (xc @ p[:dx, dx:]) @ yc.T
            rx, ry = rx[:, None], ry[None, :]
        u, ux, uy = (0.5 * r.clamp_min(1e-300).log() for r in (joint, rx, ry))
        # A pair beyond a largest fitting radius moves in along its ray: all three radii shrink by the same factor.
        top = self.max_log_radius
        shift = torch.maximum(torch.maximum(u - top[0], ux - top[1]), uy - top[2]).clamp_min(0.0)
        return self.constant + self._radial(0, u - shift) - self._radial(1, ux - shift) - self._radial(2, uy - shift)

    def _centred(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.to(torch.float64) - self.location[: self.x_dim], y.to(torch.float64) - self.location[self.x_dim :]

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._scores(*self._centred(x, y), pairs=False).to(x.dtype)

    def pair_scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._scores(*self._centred(x, y), pairs=True).to(x.dtype)
