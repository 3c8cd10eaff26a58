"""The package carries its data: a wheel built from the repository, installed into a temporary
folder, loads the small MNIST digits and the grokked network from another working directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USE = """
import interpcourse
from interpcourse.mnist import load_small_mnist
from interpcourse.grokking import grokked_network
assert interpcourse.__file__.startswith({target!r}), interpcourse.__file__
X, T = load_small_mnist()
print(X.shape, T.shape, grokked_network().p)
"""


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw)


def test_a_wheel_installed_elsewhere_loads_the_shipped_data(tmp_path):
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    # built from a copy: a build/ folder left in the repository could supply files the wheel lacks
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "build", "_build", "_site", "*.egg-info", "__pycache__", "node_modules"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)])
    (wheel,) = wheels.glob("interpcourse-*.whl")
    run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)])
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = USE.format(target=str(target))
    out = run([sys.executable, "-c", code], cwd=elsewhere, env=env).stdout
    assert out.split() == ["(5000,", "784)", "(5000,", "1)", "59"], out
