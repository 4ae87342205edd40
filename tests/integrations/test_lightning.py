"""lrkit with a real ``lightning.Trainer``: a tiny regression model on data made here, CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import Logger  # noqa: E402

import lrkit  # noqa: E402
from lrkit.integrations.lightning import configure_optimizers, total_steps_of  # noqa: E402
from lrkit.torch import Scheduler  # noqa: E402

LR = 0.05
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.* is deprecated")  # lightning 2.6 on torch 2.13


class MemoryLogger(Logger):
    """Keeps every logged metric in memory: ``rows`` of ``(step, {name: value})``."""

    def __init__(self):
        super().__init__()
        self.rows: list[tuple[int, dict]] = []

    @property
    def name(self):
        return "memory"

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def series(self, key: str) -> dict[int, float]:
        """``{step: value}`` of one metric (the LR monitor logs once per batch; accumulation repeats a step)."""
        out: dict[int, float] = {}
        for step, m in self.rows:
            if key in m:
                assert out.setdefault(step, m[key]) == m[key], f"{key} changed within step {step}"
        return out


class AppliedLR(Callback):
    """Every group's LR just before each optimizer step."""

    def __init__(self):
        self.lrs: list[list[float]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.lrs.append([g["lr"] for g in optimizer.param_groups])


class Tiny(L.LightningModule):
    """A two-layer MLP with two named parameter groups of different LRs (and weight decays)."""

    def __init__(self, spec, total_steps=None, hyperparams=None):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Linear(4, 8)
        self.head = torch.nn.Linear(8, 1)
        self.spec, self.total, self.hyperparams = spec, total_steps, hyperparams

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.head(torch.tanh(self.body(x))), y)

    def configure_optimizers(self):
        opt = torch.optim.AdamW([
            {"params": self.body.parameters(), "lr": LR, "weight_decay": 0.1, "name": "body"},
            {"params": self.head.parameters(), "lr": LR / 5, "weight_decay": 0.01, "name": "head"},
        ])
        return configure_optimizers(self, opt, self.spec, self.total, hyperparams=self.hyperparams)


def loader(n=64, batch=4):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = x.sum(1, keepdim=True)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def trainer(tmp_path, logger=None, callbacks=(), **kw):
    base = dict(accelerator="cpu", devices=1, enable_progress_bar=False, enable_model_summary=False,
                logger=logger if logger is not None else False, log_every_n_steps=1,
                enable_checkpointing=False, default_root_dir=str(tmp_path), callbacks=list(callbacks))
    base.update(kw)
    return L.Trainer(**base)


def test_lr_monitor_shows_the_spec_per_group_with_a_weight_decay_schedule(tmp_path):
    N, spec = 16, "cosine(warmup=3, floor=0.1)"
    log, rec = MemoryLogger(), AppliedLR()
    monitor = LearningRateMonitor(logging_interval="step", log_weight_decay=True)
    model = Tiny(spec, hyperparams={"weight_decay": "linear(end=0.5)"})
    trainer(tmp_path, log, [monitor, rec], max_steps=N).fit(model, loader(n=128))
    m = lrkit.parse(spec).sample(N)
    wd = lrkit.parse("linear(end=0.5)").sample(N)
    body, head = log.series("lr/body"), log.series("lr/head")
    assert sorted(body) == sorted(head) == list(range(N))
    for k in range(N):
        assert body[k] == pytest.approx(LR * m[k], rel=1e-12)
        assert head[k] == pytest.approx(LR / 5 * m[k], rel=1e-12)  # each group's floor is 0.1 of its own LR
    assert body[0] > 0
    assert log.series("lr/body-weight_decay")[N - 1] == pytest.approx(0.1 * wd[N - 1], rel=1e-12)
    assert log.series("lr/head-weight_decay")[5] == pytest.approx(0.01 * wd[5], rel=1e-12)
    assert [x[0] for x in rec.lrs] == pytest.approx(list(LR * m), rel=1e-12)  # and the optimizer used them
    sched = trainer_sched(model)
    assert sched.total_steps == N and sched.last_epoch == N  # total from estimated_stepping_batches


def trainer_sched(model) -> Scheduler:
    (config,) = model.trainer.lr_scheduler_configs
    assert config.interval == "step" and config.frequency == 1 and config.name == "lr"
    return config.scheduler


@pytest.mark.filterwarnings("ignore:.*dataloader is not resumable")
@pytest.mark.filterwarnings("ignore:Be aware that when using .ckpt_path.")
def test_resume_from_a_lightning_checkpoint_is_exact(tmp_path):
    N, spec = 20, "wsd(warmup=2, decay=0.5, form='cosine', floor=0.02)"
    ckpts = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=8, save_top_k=-1,
                            filename="{step}")
    full_rec = AppliedLR()
    trainer(tmp_path, callbacks=[ckpts, full_rec], max_steps=N, enable_checkpointing=True).fit(Tiny(spec), loader())
    path = tmp_path / "ckpt" / "step=8.ckpt"
    state = torch.load(path, weights_only=False)["lr_schedulers"][0]
    assert state["last_epoch"] == 8

    rec = AppliedLR()
    model = Tiny(spec)
    trainer(tmp_path / "b", callbacks=[rec], max_steps=N).fit(model, loader(), ckpt_path=str(path))
    assert len(full_rec.lrs) == N and len(rec.lrs) == N - 8
    assert rec.lrs == full_rec.lrs[8:]  # bit-identical, both groups
    assert trainer_sched(model).last_epoch == N


def test_accumulate_grad_batches_counts_optimizer_steps(tmp_path):
    """32 batches, accumulate 2, one epoch: 16 optimizer steps is the total, and the schedule runs over them."""
    spec = "linear(warmup=2, end=0.1)"
    log, rec = MemoryLogger(), AppliedLR()
    model = Tiny(spec)
    trainer(tmp_path, log, [LearningRateMonitor(logging_interval="step"), rec], max_epochs=1,
            accumulate_grad_batches=2).fit(model, loader(n=128))
    N = 16
    sched = trainer_sched(model)
    assert sched.total_steps == N and sched.last_epoch == N
    m = lrkit.parse(spec).sample(N)
    assert [x[0] for x in rec.lrs] == pytest.approx(list(LR * m), rel=1e-12)
    body = log.series("lr/body")
    assert sorted(body) == list(range(N))
    assert [body[k] for k in range(N)] == pytest.approx(list(LR * m), rel=1e-12)


def test_total_steps_needs_a_trainer_or_an_end():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    with pytest.raises(lrkit.SpecError, match="estimated_stepping_batches"):
        configure_optimizers(object(), opt, "cosine()")

    class Endless:
        estimated_stepping_batches = float("inf")

    with pytest.raises(lrkit.SpecError, match="no end"):
        configure_optimizers(Endless(), opt, "cosine()")
    with pytest.raises(lrkit.SpecError, match="no end"):
        total_steps_of(Endless())
    out = configure_optimizers(Endless(), opt, "inverse_sqrt(warmup=10)")  # needs no total: fine with no end
    assert not hasattr(out["lr_scheduler"]["scheduler"], "total_steps")  # no end: absent, as accelerate expects
    out = configure_optimizers(Endless(), opt, "cosine()", total_steps=50, name=None)
    assert out["lr_scheduler"]["scheduler"].total_steps == 50 and "name" not in out["lr_scheduler"]


def test_a_plateau_phase_is_refused_where_lightning_would_never_feed_it():
    """Before: Lightning passes a metric only to its own ReduceLROnPlateau, so plateau() silently never reduced."""
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    for spec in ["plateau()", ["sequence(constant(), plateau(), boundaries=[5])"]]:
        with pytest.raises(lrkit.SpecError, match=r"plateau\(...\) phase.*self.lr_schedulers\(\).step\(metrics="):
            configure_optimizers(object(), opt, spec, total_steps=10)


def test_a_trainer_with_no_training_batches_says_so():
    """Before: estimated_stepping_batches=0 became 'total_steps=0 is zero', with no word of the Trainer."""
    class Empty:
        estimated_stepping_batches = 0

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    with pytest.raises(lrkit.SpecError, match="estimated_stepping_batches is 0: it will take no optimizer step"):
        configure_optimizers(Empty(), opt, "cosine()")
    configure_optimizers(Empty(), opt, "constant()")  # a schedule that needs no total still runs
