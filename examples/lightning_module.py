"""A Lightning module whose optimizer is driven by lrkit, logged by ``LearningRateMonitor``, resumed exactly.

Run:  python examples/lightning_module.py [--steps 40]

``configure_optimizers`` returns lrkit's helper, which steps the schedule every optimizer step
(Lightning's default interval is the epoch) over ``trainer.estimated_stepping_batches``. The run stops
halfway, resumes from the Lightning checkpoint with ``ckpt_path=``, and the LR monitor's values are
compared with the schedule's.
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import tempfile
import warnings

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

import lrkit
from lrkit.integrations.lightning import configure_optimizers

SPEC = "wsd(warmup=0.1, decay=0.3, form='1-sqrt', floor=0.05)"
LR = 1e-2


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=LR, weight_decay=0.05)
        # the total (optimizer steps) comes from self.trainer.estimated_stepping_batches
        return configure_optimizers(self, opt, SPEC, name="lr")


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 8, generator=g)
    y = torch.sin(x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def fit(root: str, steps: int, stop_at: int | None = None, ckpt: str | None = None):
    callbacks = [LearningRateMonitor(logging_interval="step")]
    if stop_at is not None:
        callbacks.append(ModelCheckpoint(dirpath=os.path.join(root, "ckpt"), every_n_train_steps=stop_at,
                                         save_top_k=-1, filename="{step}"))
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, enable_progress_bar=False,
                        enable_model_summary=False, log_every_n_steps=1, default_root_dir=root,
                        logger=CSVLogger(root, name="logs"), callbacks=callbacks,
                        enable_checkpointing=stop_at is not None)
    trainer.fit(Regressor(), data(), ckpt_path=ckpt)
    lrs: dict[int, float] = {}
    losses = []
    with open(trainer.logger.experiment.metrics_file_path) as f:
        for row in csv.DictReader(f):
            if row.get("lr"):
                lrs[int(row["step"])] = float(row["lr"])
            if row.get("loss"):
                losses.append(float(row["loss"]))
    return lrs, losses


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    a = ap.parse_args(argv)
    N, half = a.steps, a.steps // 2
    warnings.filterwarnings("ignore")  # Lightning's advice on dataloader workers etc.
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as root:
        full, losses = fit(os.path.join(root, "a"), N, stop_at=half)
        (ckpt,) = glob.glob(os.path.join(root, "a", "ckpt", f"step={half}.ckpt"))
        resumed, _ = fit(os.path.join(root, "b"), N, ckpt=ckpt)
    expected = LR * lrkit.parse(SPEC).sample(N)
    worst = max(abs(full[k] - expected[k]) for k in range(N))
    same = all(resumed[k] == full[k] for k in range(half, N))
    print(f"Lightning + lrkit: {SPEC} over {N} optimizer steps (estimated_stepping_batches)")
    print(f"  LearningRateMonitor at steps 0, {N // 10}, {N - 1}: "
          + ", ".join(f"{full[k]:.2e}" for k in (0, N // 10, N - 1))
          + f"  (largest difference from the spec {worst:.1e})")
    print(f"  resumed from step={half}.ckpt: {'identical' if same else 'DIFFERENT'} LRs for steps {half}-{N - 1}; "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    return 0 if same and worst < 1e-15 and sorted(resumed)[0] == half else 1


if __name__ == "__main__":
    raise SystemExit(main())
