"""Each script in examples/ runs to completion (exit 0) on the CPU with nothing downloaded.

The examples check their own claims (LRs equal the spec's, resume identical) and exit 1 when they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lrkit

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CASES = {
    "torch_loop.py": (["--steps", "40"], ["torch"], "identical LRs at every step"),
    "hf_trainer.py": (["--steps", "12", "--warmup-steps", "3"], ["torch", "transformers", "accelerate"],
                      "ran as 'cosine(floor=0.1, warmup=3)'"),
    "lightning_module.py": (["--steps", "20"], ["torch", "lightning"], "identical LRs for steps 10-19"),
    "jax_optax.py": (["--steps", "30"], ["jax", "optax"], "via Schedule.to_optax()"),
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs(name):
    args, needs, expect = CASES[name]
    for module in needs:
        pytest.importorskip(module)
    if name == "jax_optax.py" and not hasattr(lrkit.Schedule, "to_optax"):
        pytest.skip("Schedule.to_optax is not there yet")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", JAX_PLATFORMS="cpu",
               PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert expect in proc.stdout, proc.stdout
