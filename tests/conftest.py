import torch

# Two cores here and in CI: pin the thread count so results and timings do not depend on the runner.
torch.set_num_threads(2)
