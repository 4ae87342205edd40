"""A Hugging Face ``Trainer`` driven by an lrkit schedule, with warmup taken from ``TrainingArguments``.

Run:  python examples/hf_trainer.py [--steps 30]

A 1-layer GPT-2 built from a config (random weights, no download) learns a synthetic token pattern on the
CPU. ``LrkitTrainer`` is ``transformers.Trainer`` with one extra argument, ``lr_schedule``; the total is
the Trainer's own number of optimizer steps and ``warmup_steps`` fills the spec's empty ``warmup=``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402

import lrkit  # noqa: E402
from lrkit.integrations.transformers import LrkitTrainer  # noqa: E402

SPEC = "cosine(floor=0.1)"  # the warmup comes from TrainingArguments(warmup_steps=...)
VOCAB, SEQ = 64, 16


class Counting(torch.utils.data.Dataset):
    """Sequences that count up modulo the vocabulary from a random start: easy to learn, nothing to download."""

    def __len__(self):
        return 4096

    def __getitem__(self, i):
        start = int(torch.randint(0, VOCAB, (1,), generator=torch.Generator().manual_seed(i)))
        x = (torch.arange(SEQ) + start) % VOCAB
        return {"input_ids": x, "labels": x}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--warmup-steps", type=int, default=5)
    a = ap.parse_args(argv)
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=VOCAB, n_positions=SEQ))
    with tempfile.TemporaryDirectory() as out:
        args = transformers.TrainingArguments(
            output_dir=out, max_steps=a.steps, warmup_steps=a.warmup_steps, learning_rate=3e-3,
            per_device_train_batch_size=4, gradient_accumulation_steps=2, logging_steps=1, report_to=[],
            use_cpu=True, save_strategy="no", disable_tqdm=True, seed=0)
        trainer = LrkitTrainer(model=model, args=args, train_dataset=Counting(), lr_schedule=SPEC)
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)  # no per-step log lines
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = trainer.train()
    ran = trainer.lr_scheduler.state_dict()["schedules"]["lr"][0]
    logged = {h["step"]: h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h}
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    expected = 3e-3 * lrkit.parse(ran).sample(a.steps)
    # transformers 5 logs at global step g the LR that the g-th optimizer step used (lrkit step g-1)
    worst = max(abs(logged[g] - expected[g - 1]) for g in logged)
    print(f"LrkitTrainer: {SPEC!r} with warmup_steps={a.warmup_steps} ran as {ran!r} over {a.steps} optimizer steps")
    print(f"  LR at steps 1, {a.warmup_steps}, {a.steps}: "
          + ", ".join(f"{logged[g]:.2e}" for g in (1, a.warmup_steps, a.steps))
          + f"  (largest difference from the spec {worst:.1e})")
    print(f"  loss {losses[0]:.3f} -> {losses[-1]:.3f}; train_loss {result.training_loss:.3f}")
    return 0 if worst < 1e-15 and logged[1] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
