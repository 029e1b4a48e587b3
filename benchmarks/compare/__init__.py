"""Side-by-side benchmark: miestim, torch-mist, bmi and k-NN estimators against Gaussian ground truth.

``python -m benchmarks compare`` (see :mod:`benchmarks.compare.run`) and
``python -m benchmarks compare-setup`` (see :mod:`benchmarks.compare.envs`).
"""
