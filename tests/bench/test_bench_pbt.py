"""Population Based Training on Ray Tune with lrkit schedule parameters (a tiny population on a local Ray)."""

from __future__ import annotations

import pytest

import lrkit
from lrkit.bench.pbt import _check_space, spec_for


def test_template_and_space_checks():
    space = _check_space("wsd(decay={decay})", {"lr": (1e-4, 1e-2, "log"), "decay": (0.1, 0.5)})
    assert spec_for("wsd(decay={decay})", {"lr": 1.0, "decay": 0.9}, space) == "wsd(decay=0.5)"  # clipped
    assert lrkit.parse(spec_for("wsd(decay={decay})", {"lr": 1e-3, "decay": 0.25}, space)) == \
        lrkit.parse("wsd(decay=0.25)")
    with pytest.raises(lrkit.SpecError, match="needs decay"):
        _check_space("wsd(decay={decay})", {"lr": (1e-4, 1e-2)})
    with pytest.raises(lrkit.SpecError, match="needs 'lr'"):
        _check_space("cosine()", {"decay": (0.1, 0.2)})
    with pytest.raises(lrkit.SpecError, match="valid range"):
        _check_space("cosine()", {"lr": (0.0, 1e-2, "log")})


def test_pbt_tiny_population_on_local_ray(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("ray.tune", reason="Population Based Training needs ray[tune]")
    import ray

    from lrkit.bench.pbt import pbt_search

    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except Exception as e:  # noqa: BLE001 - a sandbox without the sockets or /dev/shm Ray needs
            pytest.skip(f"a local Ray cannot start here: {type(e).__name__}: {e}")
    try:
        res = pbt_search("digits-mlp", 60, population=2, interval=10, perturbation_interval=2, quantile_fraction=0.5,
                         synch=True, space={"lr": (1e-5, 3e-2, "log"), "decay": (0.05, 0.6)},
                         storage_path=str(tmp_path), seed=0)
    finally:
        if started_here:
            ray.shutdown()
    assert len(res.histories) == 2 and res.total_steps == 120
    assert lrkit.parse(res.best_spec).family == "wsd"
    for h in res.histories:
        assert h[-1]["step"] == 60 and h[0]["val_loss"] > h[-1]["val_loss"]
    # the bottom member was exploited (restarted from the other's checkpoint) and explored (new parameters)
    restarts = [r for h in res.histories for r in h if r["restored_at"] is not None]
    assert restarts
    changed = [h for h in res.histories if len({(r["lr"], r["decay"]) for r in h}) > 1]
    assert changed
    assert res.best_val == min(h[-1]["val_loss"] for h in res.histories)
