"""The independent-components family: each side unmixed linearly, then the Gaussian-copula critic, nothing trained."""

from __future__ import annotations

from functools import partial

import torch

from .._validation import check_positive_int
from ..critics.elliptical import tyler_shape
from ..scaling import RankGaussianizer, take_rows
from .family import Fold, InSampleReadout
from .gaussian import GaussianFamily

__all__ = ["ICAFamily", "IndependentComponents"]

# Fixed-point iterations of FastICA, and the tolerance at which they stop.
_MAX_ITERATIONS = 100
_TOLERANCE = 1e-4


def _inverse_sqrt(spd: torch.Tensor) -> torch.Tensor:
    """:math:`A^{-1/2}` of a symmetric positive-definite matrix: it whitens a scatter, and :math:`(W W^\\top)^{-1/2} W` is the orthogonal matrix nearest :math:`W`."""
    values, vectors = torch.linalg.eigh(spd)
    return vectors @ torch.diag(values.clamp_min(1e-300).rsqrt()) @ vectors.T


def _fast_ica_rotation(white: torch.Tensor) -> torch.Tensor:
    r"""The rotation :math:`W` (rows: unmixing directions) of symmetric FastICA with the Gaussian contrast.

    Hyvärinen's fixed point :math:`W \leftarrow \mathbb{E}[g(Wz) z^\top] - \operatorname{diag}\mathbb{E}[g'(Wz)]\, W`
    with :math:`g(u) = u e^{-u^2/2}`, which stays bounded on heavy tails, each step followed by
    symmetric orthogonalisation. It starts from a fixed rotation (its own generator, seed 0), so a
    fit touches no global random state and is reproducible.
    """
    n, d = white.shape
    start = torch.Generator().manual_seed(0)
    w = torch.linalg.qr(torch.randn(d, d, generator=start, dtype=torch.float64))[0].to(white.device)
    for _ in range(_MAX_ITERATIONS):
        u = white @ w.T
        bell = torch.exp(-u.pow(2) / 2)
        step = (u * bell).T @ white / n - ((1 - u.pow(2)) * bell).mean(dim=0)[:, None] * w
        update = _inverse_sqrt(step @ step.T) @ step  # symmetric orthogonalisation
        converged = float((1 - (update * w).sum(dim=1).abs()).abs().max()) < _TOLERANCE
        w = update
        if converged:
            break
    return w


class IndependentComponents:
    r"""A side's independent components, each mapped to normal scores: :math:`\Phi^{-1}(\hat F_j(((v - m) U)_j))`, fitted on training rows.

    :math:`m` is the coordinate-wise median and :math:`U = S^{-1/2} W^\top` unmixes: :math:`S` is
    Tyler's shape matrix (:func:`~miestim.critics.elliptical.tyler_shape`) and :math:`W` the
    rotation of symmetric FastICA on the whitened rows. Both steps, and the normal scores after
    them, are invertible maps of the side, so they leave the MI unchanged; the point is the law
    they leave behind. When a side is a rotation of independent non-Gaussian coordinates (a
    coordinate-wise map of white Gaussians, then a rotation: :class:`miestim.tasks.MixingTask`),
    the unmixed coordinates are those coordinates, their normal scores the white Gaussians, and
    the Gaussian copula holds again. On a Gaussian side, where the components are not
    identified, any rotation leaves it Gaussian.

    Tyler's estimate, not the covariance, whitens: the sample covariance of a cubed Gaussian has
    about 10% relative error at n = 5,000 (its 12th moment is 46 times its squared 6th), and a
    whitening that far off limits how well any rotation separates the sources. Tyler's weighs
    each row by its radius only, and for symmetric independent sources it is still diagonal in
    their coordinates, which is all that whitening has to achieve (the cubed mix of
    ``python -m benchmarks auto --tasks gaps``, read in-sample, seeds 0-4: 4.0% low, against
    5.4% whitened by the covariance).

    A one-column side, or a side whose scatter is singular, is only mapped to normal scores.

    Args:
        train: ``(n, d)`` samples; with ``rows`` the full data set, of which only ``train[rows]`` is used.
        rows: optional ``(n_train,)`` row indices of the training split.
        max_rows: at most this many training rows (evenly spaced) fit the unmixing; all of them
            fit the normal scores.
    """

    def __init__(self, train: torch.Tensor, *, rows: torch.Tensor | None = None, max_rows: int = 20_000) -> None:
        rows = torch.arange(train.shape[0]) if rows is None else rows
        fitting = take_rows(train, rows[torch.linspace(0, rows.shape[0] - 1, min(max_rows, rows.shape[0])).long()]).to(torch.float64)
        self.center_ = fitting.median(dim=0).values
        self.unmixing_ = self._unmixing(fitting - self.center_)
        self.normal_scores_ = RankGaussianizer(self._unmix(take_rows(train, rows)))

    @staticmethod
    def _unmixing(centred: torch.Tensor) -> torch.Tensor:
        d = centred.shape[1]
        identity = torch.eye(d, dtype=torch.float64, device=centred.device)
        if d == 1 or centred.shape[0] <= 2 * d:
            return identity
        spread = torch.linalg.eigvalsh(centred.T @ centred)
        if float(spread.min()) <= 1e-10 * float(spread.max()):
            return identity  # a side of fewer dimensions than columns: Tyler's fixed point has no inverse
        shape = tyler_shape(centred)
        if not bool(torch.isfinite(shape).all()):
            return identity
        whitening = _inverse_sqrt(shape)
        white = centred @ whitening
        # Tyler's shape fixes no scale; the contrast's bell wants components of about unit variance
        # (a robust spread of the cubed Gaussian's bulk, 0.3, failed to separate them).
        white = white / white.std(dim=0).mean()
        return whitening @ _fast_ica_rotation(white).T

    def _unmix(self, data: torch.Tensor) -> torch.Tensor:
        return (data.to(torch.float64) - self.center_) @ self.unmixing_

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        return self.normal_scores_(self._unmix(data)).to(data.dtype)


class ICAFamily(GaussianFamily):
    r"""The Gaussian-copula critic of each side's independent components (:class:`IndependentComponents`).

    The normal scores of each column undo a coordinate-wise map but not a mixing after it: a
    5-d Gaussian pair with MI 2, each side rotated, cubed and rotated again
    (:class:`~miestim.tasks.MixingTask`), keeps 1.12 nats in its Gaussian copula. Unmixing each
    side linearly first (independent component analysis) recovers the cubed coordinates, whose
    normal scores are jointly Gaussian again. The family reads the data as given
    (``scaled = False``), since normal scores per column would bend the linear mixing.

    Nothing is trained, and the unmixing of a side never sees the other side: like the normal
    scores, it is a map of each side fitted to that side's rows alone, which cannot pair rows
    up. So when every fold kept the family, its readout is in-sample and bias-corrected as the
    Gaussian family's is (:meth:`GaussianFamily.in_sample_readout`), on the components of all
    rows; otherwise each fold's components are fitted on its training rows.

    Args:
        bias_corrected: read out the bias-corrected in-sample value when every fold kept the
            family (default ``True``); ``False`` keeps the held-out readout.
        max_dim: the family is raced only on sides of at most this many columns (default 10),
            where FastICA is cheap and its components well estimated; on at least one side of
            two or more columns, since one column has nothing to unmix.
        max_rows: at most this many rows fit each side's unmixing (default 20,000).
    """

    name = "ica"
    scaled = False
    fitted_to = "every row's independent components"

    def __init__(self, bias_corrected: bool = True, max_dim: int = 10, max_rows: int = 20_000) -> None:
        super().__init__(bias_corrected=bias_corrected)
        self.max_dim = check_positive_int(max_dim, name="max_dim", minimum=2)
        self.max_rows = check_positive_int(max_rows, name="max_rows", minimum=2)

    def applies(self, x_dim: int, y_dim: int) -> bool:
        return 2 <= max(x_dim, y_dim) <= self.max_dim

    def view(self, fold: Fold) -> Fold:
        return fold.rescaled(partial(IndependentComponents, max_rows=self.max_rows))

    def in_sample_readout(self, x: torch.Tensor, y: torch.Tensor) -> InSampleReadout | None:
        """The Gaussian family's bias-corrected in-sample readout on each side's components, fitted to all rows."""
        if not self.bias_corrected:
            return None
        sx, sy = IndependentComponents(x, max_rows=self.max_rows), IndependentComponents(y, max_rows=self.max_rows)
        return super().in_sample_readout(sx(x), sy(y))

    def held_out_readout(self) -> ICAFamily:
        return type(self)(bias_corrected=False, max_dim=self.max_dim, max_rows=self.max_rows)

    def __repr__(self) -> str:
        return f"ICAFamily(bias_corrected={self.bias_corrected}, max_dim={self.max_dim}, max_rows={self.max_rows})"
