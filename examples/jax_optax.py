"""JAX + optax driven by an lrkit schedule, through ``Schedule.to_optax()``.

Run:  python examples/jax_optax.py [--steps 50]

``schedule.to_optax(total_steps, lr=peak)`` is an optax schedule (``count -> lr``, traceable by jit) for any
optax optimizer. ``optax.inject_hyperparams`` exposes the LR each update used (read it after the update:
the state holds the value of the update just made), which is checked against ``schedule.sample``. A linear model is fitted on synthetic data, on the CPU.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import lrkit  # noqa: E402

SPEC = "cosine(warmup=0.1, floor=0.1)"
LR = 0.1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    a = ap.parse_args(argv)
    N = a.steps
    schedule = lrkit.parse(SPEC)
    lr = schedule.to_optax(N, lr=LR)  # an optax.Schedule: step count -> LR, traceable by jit
    opt = optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=1e-4)

    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (256, 4))
    w_true = jnp.array([1.0, -2.0, 0.5, 3.0])
    y = x @ w_true
    params = {"w": jnp.zeros(4)}
    state = opt.init(params)

    def loss_fn(p):
        return jnp.mean((x @ p["w"] - y) ** 2)

    @jax.jit
    def step(p, s):
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, loss

    used, losses = [], []
    for _ in range(N):
        params, state, loss = step(params, state)
        used.append(float(state.hyperparams["learning_rate"]))  # the LR this update used
        losses.append(float(loss))
    expected = LR * schedule.sample(N)
    worst = float(np.max(np.abs(np.asarray(used) - expected) / expected))
    print(f"optax.adamw + lrkit {SPEC} over {N} steps via Schedule.to_optax()")
    print(f"  LR at steps 0, {N // 10}, {N - 1}: " + ", ".join(f"{used[k]:.3e}" for k in (0, N // 10, N - 1))
          + f"  (largest relative difference from schedule.sample: {worst:.1e}, float32)")
    print(f"  loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    return 0 if worst < 1e-5 and used[0] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
