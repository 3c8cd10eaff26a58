"""Save Lesson 9's grokked network (`train_grokking()` with its defaults) for Lesson 10.

    python data/build_grokked.py   # writes interpcourse/data/grokked_p59.safetensors (about 100 KB)

Lesson 9 trains this network itself, in seconds; Lesson 10 only studies its hidden layer, so it
loads the same weights instead of training them again and stays within its time budget.
`tests/test_superposition.py` checks that `train_grokking()` still gives exactly these weights.
No pickle: `save_model` writes safetensors with the config in the file's metadata.
"""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

from interpcourse.grokking import train_grokking  # noqa: E402
from interpcourse.training import save_model  # noqa: E402

PATH = Path(__file__).resolve().parent.parent / "interpcourse" / "data" / "grokked_p59.safetensors"

if __name__ == "__main__":
    torch.set_num_threads(1)
    model, history = train_grokking()
    save_model(model, PATH)
    print(f"wrote {PATH} (trained {int(history.step.iloc[-1])} steps)")
