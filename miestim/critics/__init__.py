"""Critics: modules that score pairs, ``S[i, j] = f(x_i, y_j)``.

Trained networks (:class:`SeparableCritic`, :class:`ConcatCritic`, :class:`BilinearCritic`), the
closed-form Gaussian-copula critic and the critics built on it (:mod:`miestim.critics.copula`),
and the k-nearest-neighbour critic (:mod:`miestim.critics.knn`) and the elliptical critic
(:mod:`miestim.critics.elliptical`). A new critic subclasses
:class:`Critic` and goes in a module of its own here.
"""

from ._networks import BilinearCritic, ConcatCritic, Critic, SeparableCritic, make_critic, mlp
from .copula import GaussianCopulaCritic, JointResidualCritic, SeparableResidualCritic
from .elliptical import EllipticalCritic
from .knn import KSGCritic

__all__ = [
    "BilinearCritic",
    "ConcatCritic",
    "Critic",
    "EllipticalCritic",
    "GaussianCopulaCritic",
    "JointResidualCritic",
    "KSGCritic",
    "SeparableCritic",
    "SeparableResidualCritic",
    "make_critic",
    "mlp",
]
