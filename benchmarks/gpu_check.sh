# The device check: CUDA tests plus the default-estimator and CMI benchmarks on the GPU.
# Run from the repository root on a CUDA machine with torch installed: bash benchmarks/gpu_check.sh
# Results go to $OUT (default: docs/benchmarks/).
set -o pipefail
OUT=${OUT:-docs/benchmarks}
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/sampling/test_knn_sampler.py -k "cuda" 2>&1 | tail -5
python3 -m benchmarks accuracy --estimators smile --device cuda --json $OUT/accuracy-cuda.json 2>&1 | tail -12
python3 -m benchmarks cmi --device cuda --json $OUT/cmi-cuda.json 2>&1 | tail -12
