"""Variational MI bounds as pure functions of a score matrix ``S[i, j] = f(x_i, y_j)``.

Every function takes ``(n, n)`` scores whose diagonal holds the joint pairs and returns
a scalar tensor in nats. They are numerically stable (log-sum-exp throughout) and finite
for any finite scores. float16 and bfloat16 scores are upcast to float32 (the result is
float32): half precision overflows at 65504, within reach of a sum of ``n^2`` terms.
NaN scores are not checked for (the bounds run every training step) and propagate.

:mod:`~miestim.functional.two_sample` holds the readouts of a two-sample classifier
(CMINE): KL estimates from its logits on joint and reference samples given separately.
"""

from .dv import dv_lower_bound
from .infonce import infonce_lower_bound
from .interpolated import interpolated_lower_bound
from .js import js_lower_bound, js_objective, js_row_terms, sampled_js_objective
from .mine import mine_lower_bound, update_log_ema
from .nwj import nwj_lower_bound
from .smile import smile_lower_bound
from .tuba import tuba_lower_bound
from .two_sample import clip_logits, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound

__all__ = [
    "clip_logits",
    "dv_lower_bound",
    "infonce_lower_bound",
    "interpolated_lower_bound",
    "js_lower_bound",
    "js_objective",
    "js_row_terms",
    "mine_lower_bound",
    "nwj_lower_bound",
    "sampled_js_objective",
    "smile_lower_bound",
    "tuba_lower_bound",
    "two_sample_dv_bound",
    "two_sample_mean_log_ratio",
    "two_sample_nwj_bound",
    "update_log_ema",
]
