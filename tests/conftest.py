import os

import torch

# Two cores here and in CI, shared by the pytest-xdist workers: each worker gets an equal share of them, so results
# and timings do not depend on the runner, and two workers never oversubscribe the cores.
_CORES = 2
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, _CORES // _WORKERS))
