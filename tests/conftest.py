import os
import torch

os.environ.setdefault("IN_TEST", "1")
torch.set_num_threads(1)
