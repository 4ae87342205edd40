"""lrkit with a real Hugging Face ``Trainer``: a tiny GPT-2 built from a config, random data, CPU."""

from __future__ import annotations

import os
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import lrkit  # noqa: E402
from lrkit.integrations.transformers import LrkitTrainer, make_scheduler, resolve_schedule  # noqa: E402
from lrkit.torch import Scheduler  # noqa: E402

LR = 1e-3
VOCAB, SEQ = 64, 16


class TokenData(torch.utils.data.Dataset):
    """Deterministic random token sequences (each item seeded by its index)."""

    def __init__(self, n: int = 512):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = torch.randint(0, VOCAB, (SEQ,), generator=torch.Generator().manual_seed(i))
        return {"input_ids": x, "labels": x}


def tiny_gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=VOCAB, n_positions=SEQ)
    return transformers.GPT2LMHeadModel(config)


class AppliedLR(transformers.TrainerCallback):
    """Every group's LR just before each optimizer step: the LRs the optimizer actually used."""

    def __init__(self):
        self.lrs: list[list[float]] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kw):
        self.lrs.append([g["lr"] for g in optimizer.param_groups])


def targs(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "out"), max_steps=24, per_device_train_batch_size=4, learning_rate=LR,
                logging_steps=1, report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, seed=0,
                dataloader_num_workers=0)
    base.update(kw)
    return transformers.TrainingArguments(**base)


def logged_lrs(trainer) -> dict[int, float]:
    return {h["step"]: h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h}


def test_trainer_logs_and_applies_the_spec_with_args_warmup_and_per_group_floors(tmp_path):
    """cosine(floor=0.1) with warmup_steps=4 from the args runs as cosine(floor=0.1, warmup=4); two groups with
    different LRs each end at 0.1 of their own LR (transformers' own min_lr uses the default group's LR)."""
    model = tiny_gpt2()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "lr": LR}, {"params": rest, "lr": LR / 10, "weight_decay": 0.0}])
    rec = AppliedLR()
    N = 16
    trainer = LrkitTrainer(model=model, args=targs(tmp_path, warmup_steps=4, max_steps=N), train_dataset=TokenData(),
                           optimizers=(opt, None), callbacks=[rec], lr_schedule="cosine(floor=0.1)")
    trainer.train()
    expected = lrkit.parse("cosine(floor=0.1, warmup=4)").sample(N)
    assert trainer.lr_scheduler.state_dict()["schedules"]["lr"] == ["cosine(floor=0.1, warmup=4)"] * 2
    # what the optimizer used, step by step, per group
    assert len(rec.lrs) == N
    for k, (a, b) in enumerate(rec.lrs):
        assert a == pytest.approx(LR * expected[k], rel=1e-12, abs=0)
        assert b == pytest.approx(LR / 10 * expected[k], rel=1e-12, abs=0)
    assert rec.lrs[0][0] > 0  # lrkit's warmup does not waste step 0 at LR 0
    assert rec.lrs[-1][1] == pytest.approx(LR / 10 * expected[-1], rel=1e-12)
    # what the Trainer logs: transformers 5 logs, at global step g, the LR used by that (g-th) step
    logs = logged_lrs(trainer)
    assert sorted(logs) == list(range(1, N + 1))
    for g, lr in logs.items():
        assert lr == pytest.approx(LR * expected[g - 1], rel=1e-12, abs=0)


def test_hf_convention_reproduces_transformers_own_cosine(tmp_path):
    """convention='hf' through LrkitTrainer logs the LRs of transformers' own get_cosine_schedule_with_warmup."""
    N, W = 12, 3
    ours = LrkitTrainer(model=tiny_gpt2(), train_dataset=TokenData(), args=targs(tmp_path, max_steps=N),
                        lr_schedule=f"cosine(warmup={W})", lr_schedule_convention="hf")
    ours.train()
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    theirs = transformers.get_cosine_schedule_with_warmup(opt, num_warmup_steps=W, num_training_steps=N)
    hf = []
    for _ in range(N):
        hf.append(opt.param_groups[0]["lr"])
        opt.step()
        theirs.step()
    logs = logged_lrs(ours)
    assert sorted(logs) == list(range(1, N + 1))
    for g, lr in logs.items():
        assert lr == pytest.approx(hf[g - 1], rel=1e-12, abs=1e-18)
    assert logs[1] == 0.0  # the wasted first step that lrkit's own convention avoids


def test_resume_from_checkpoint_continues_with_the_same_lrs(tmp_path):
    """An interrupted run resumed from checkpoint-10 logs the same LR at every later step as the full run."""
    N, spec = 15, "wsd(warmup=3, decay=0.4, form='1-sqrt', floor=0.05)"  # one checkpoint, at step 10
    full = LrkitTrainer(model=tiny_gpt2(), train_dataset=TokenData(), lr_schedule=spec,
                        args=targs(tmp_path, max_steps=N, save_strategy="steps", save_steps=10))
    full.train()
    ckpt = tmp_path / "out" / "checkpoint-10"
    assert (ckpt / "scheduler.pt").is_file()
    saved = torch.load(ckpt / "scheduler.pt", weights_only=True)
    assert saved["last_epoch"] == 10 and set(saved["schedules"]["lr"]) == {str(lrkit.parse(spec))}

    resumed = LrkitTrainer(model=tiny_gpt2(), train_dataset=TokenData(), lr_schedule=spec,
                           args=targs(tmp_path, max_steps=N, save_strategy="no"))
    rec = AppliedLR()
    resumed.add_callback(rec)
    resumed.train(resume_from_checkpoint=str(ckpt))
    a, b = logged_lrs(full), logged_lrs(resumed)
    assert sorted(b) == list(range(1, N + 1))  # steps 1-10 come from the checkpoint's trainer_state.json
    b = {g: lr for g, lr in b.items() if g > 10}
    for g in b:
        assert b[g] == a[g]  # bit-identical, not approximately equal
    expected = lrkit.parse(spec).sample(N)
    assert rec.lrs[0][0] == pytest.approx(LR * expected[10], rel=1e-12)  # not the warmup's first value again
    assert [x[0] for x in rec.lrs] == [a[g] for g in range(11, N + 1)]


def test_gradient_accumulation_counts_optimizer_steps(tmp_path):
    """With gradient_accumulation_steps=2 the schedule advances once per optimizer step, over max_steps."""
    N = 10
    rec = AppliedLR()
    trainer = LrkitTrainer(model=tiny_gpt2(), train_dataset=TokenData(), callbacks=[rec],
                           lr_schedule="linear(warmup=2, end=0.2)",
                           args=targs(tmp_path, max_steps=N, gradient_accumulation_steps=2,
                                      per_device_train_batch_size=2))
    trainer.train()
    expected = LR * lrkit.parse("linear(warmup=2, end=0.2)").sample(N)
    assert len(rec.lrs) == N
    assert [x[0] for x in rec.lrs] == pytest.approx(list(expected), rel=1e-12)
    sched = trainer.lr_scheduler
    assert isinstance(sched, Scheduler) and sched.total_steps == N and sched.last_epoch == N


def test_spec_from_lr_scheduler_kwargs_and_unused_args_warn(tmp_path):
    """The CLI route: lr_scheduler_kwargs={'lrkit': SPEC}; a non-default lr_scheduler_type is reported unused."""
    args = targs(tmp_path, max_steps=8, lr_scheduler_type="cosine", lr_scheduler_kwargs={"lrkit": "linear(end=0.5)"})
    with pytest.warns(UserWarning, match="lr_scheduler_type='cosine'"):
        trainer = LrkitTrainer(model=tiny_gpt2(), args=args, train_dataset=TokenData())
    trainer.create_optimizer()
    sched = trainer.create_scheduler(num_training_steps=8)
    assert isinstance(sched, Scheduler)
    assert sched.get_last_lr()[0] == pytest.approx(LR)
    for _ in range(8):
        trainer.optimizer.step()
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0.5 * LR)


def test_bad_spec_fails_at_construction(tmp_path):
    with pytest.raises(lrkit.SpecError, match="flor"):
        LrkitTrainer(model=tiny_gpt2(), args=targs(tmp_path), train_dataset=TokenData(),
                     lr_schedule="cosine(flor=0.1)")
    with pytest.raises(lrkit.SpecError, match="no schedule"):
        LrkitTrainer(model=tiny_gpt2(), args=targs(tmp_path), train_dataset=TokenData())


class _Args:
    def __init__(self, warmup_steps):
        self.warmup_steps = warmup_steps

    def get_warmup_steps(self, n):  # transformers 5: an int, or a ratio below 1 rounded up
        import math

        return int(self.warmup_steps) if self.warmup_steps >= 1 else math.ceil(n * self.warmup_steps)


def test_args_warmup_rule():
    """warmup_steps fills a spec's empty warmup= (steps or ratio); a spec's own warmup or a composite wins, loudly."""
    assert str(resolve_schedule("cosine()", _Args(5), 100)) == "cosine(warmup=5)"
    assert str(resolve_schedule("cosine()", _Args(0.1), 95)) == "cosine(warmup=10)"  # ceil(9.5), as transformers
    assert str(resolve_schedule("cosine()", _Args(0), 100)) == "cosine()"
    assert str(resolve_schedule("cosine()", _Args(5), 100, args_warmup="ignore")) == "cosine()"
    with pytest.warns(UserWarning, match="has its own warmup"):
        assert str(resolve_schedule("cosine(warmup=3)", _Args(5), 100)) == "cosine(warmup=3)"
    seq = "sequence(constant(), cosine(), boundaries=[10])"
    with pytest.warns(UserWarning, match="composite"):
        assert resolve_schedule(seq, _Args(5), 100) == lrkit.parse(seq)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve_schedule(seq, _Args(0), 100)
    with pytest.raises(lrkit.SpecError, match="args_warmup"):
        resolve_schedule("cosine()", _Args(5), 100, args_warmup="always")


def test_make_scheduler_per_group_specs_and_wrapped_optimizer():
    """make_scheduler fills args' warmup into each group's spec and sees through accelerate's wrapper."""
    from accelerate.optimizer import AcceleratedOptimizer

    w = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [w], "lr": 1.0, "name": "w"}, {"params": [b], "lr": 0.5, "name": "b"}])
    wrapped = AcceleratedOptimizer(opt, device_placement=False)
    sched = make_scheduler(wrapped, {"w": "cosine()", "b": "constant()"}, _Args(4), 20)
    assert sched.state_dict()["schedules"]["lr"] == ["cosine(warmup=4)", "constant(warmup=4)"]
    wrapped.step()
    sched.step()
    assert sched.last_epoch == 1  # the optimizer step through the wrapper was counted
    assert opt.param_groups[0]["lr"] == pytest.approx(lrkit.parse("cosine(warmup=4)")(1, 20))


# ----- bad input: one clear line at construction, never a silent no-op ----------------------------------------
@pytest.mark.parametrize("kw, match", [
    ({"lr_schedule": 5}, r"lr_schedule=5 is not a schedule spec"),
    ({"lr_schedule": "cosine()", "lr_schedule_hyperparams": {"wd": "linear()"}}, r"'wd' cannot be scheduled"),
    ({"lr_schedule": "cosine()", "lr_schedule_hyperparams": {"weight_decay": "linea()"}}, r"'linea'"),
    ({"lr_schedule": "cosine()", "lr_schedule_convention": "pytorch"}, r"convention='pytorch' is not a preset"),
])
def test_bad_arguments_fail_at_construction_not_in_train(tmp_path, kw, match):
    """Before: these passed the constructor and failed only in train(), after the model and data were set up."""
    with pytest.raises(lrkit.SpecError, match=match):
        LrkitTrainer(model=tiny_gpt2(), args=targs(tmp_path), train_dataset=TokenData(), **kw)


def test_a_spec_in_both_lr_schedule_and_lr_scheduler_kwargs_must_agree(tmp_path):
    """Before: the spec in lr_scheduler_kwargs (the command line) was silently dropped for lr_schedule."""
    args = targs(tmp_path, lr_scheduler_kwargs={"lrkit": "linear()"})
    with pytest.raises(lrkit.SpecError, match=r"lr_schedule='cosine\(\)' and TrainingArguments.lr_scheduler_kwargs"
                                              r"\['lrkit'\]='linear\(\)' are two different schedules"):
        LrkitTrainer(model=tiny_gpt2(), args=args, train_dataset=TokenData(), lr_schedule="cosine()")
    LrkitTrainer(model=tiny_gpt2(), args=args, train_dataset=TokenData(), lr_schedule="linear()")  # the same: fine


def test_a_plateau_phase_needs_evaluations(tmp_path):
    """Before: nothing fed the metric, so a plateau phase silently never reduced the LR."""
    with pytest.raises(lrkit.SpecError, match=r"plateau\(...\) phase, which is fed the evaluation metric 'eval_loss', "
                                              r"but eval_strategy='no'"):
        LrkitTrainer(model=tiny_gpt2(), args=targs(tmp_path), train_dataset=TokenData(),
                     lr_schedule="plateau(patience=0)")


def test_a_plateau_phase_is_fed_the_evaluation_loss(tmp_path):
    """Evaluating on pure noise (labels that cannot be learned), the loss stops improving and the LR drops."""
    N = 12
    args = targs(tmp_path, max_steps=N, eval_strategy="steps", eval_steps=2, per_device_eval_batch_size=8)
    trainer = LrkitTrainer(model=tiny_gpt2(), args=args, train_dataset=TokenData(), eval_dataset=TokenData(16),
                           lr_schedule="plateau(patience=0, factor=0.5, threshold=0.5)")
    trainer.train()
    controller = trainer.lr_scheduler.state_dict()["controller"]
    assert controller["observations"] == N // 2
    assert controller["reductions"]  # an improvement of 50% never comes
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(LR * 0.5 ** len(controller["reductions"]))
