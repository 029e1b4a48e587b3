"""Ground truth beyond Gaussians: sampling tasks with a closed-form MI whose law is not Gaussian.

Every task has the interface of the :mod:`miestim.gaussian` tasks — ``sample(n, seed)``,
``mutual_information`` (nats), ``dim_x``, ``dim_y``, ``name`` and an exact ``log_density_ratio``
— so the two are interchangeable; :class:`AdditiveConditionalTask` has that of the Gaussian CMI
tasks (``conditional_mutual_information``, ``dim_z``, ``sample`` returning ``(x, y, z)``). The
wrappers take any such task, Gaussian or not.
"""

from ._additive_conditional import AdditiveConditionalTask
from ._additive_uniform import AdditiveUniformTask
from ._mixing import MixingTask
from ._scale_mixture import ScaleMixtureTask
from ._spiral import SpiralTask
from ._student_t import StudentTTask, student_t_tail_mi
from ._suite import beyond_gaussian_tasks

__all__ = [
    "AdditiveConditionalTask",
    "AdditiveUniformTask",
    "MixingTask",
    "ScaleMixtureTask",
    "SpiralTask",
    "StudentTTask",
    "beyond_gaussian_tasks",
    "student_t_tail_mi",
]
