"""Two-rank DDP run (gloo) for test_ddp.py: train, checkpoint on rank 0, resume every rank from it, and write
each rank's LRs to OUT_DIR/rank<k>.json.

usage: python ddp_worker.py OUT_DIR PORT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lrkit.torch import Scheduler

SPEC = {"backbone": "wsd(warmup=3, decay=0.4, floor=0.1)", "head": "cosine(warmup=0.1, floor=0.05)"}
TOTAL, SAVE_AT, END = 30, 12, 34


def make(model):
    opt = torch.optim.AdamW([{"params": model.module.weight, "lr": 1e-3, "name": "backbone"},
                             {"params": model.module.bias, "lr": 1e-2, "name": "head"}])
    return opt, Scheduler(opt, SPEC, TOTAL, hyperparams={"weight_decay": "linear(end=0.5)"})


def train(rank, model, opt, sched, start, end, lrs):
    torch.manual_seed(100 + rank)  # different data on every rank
    for step in range(start, end):
        x = torch.randn(8, 4)
        for micro in range(2):  # gradient accumulation: two backward passes per optimizer step
            model(x[micro * 4:(micro + 1) * 4]).pow(2).mean().backward()
            sched.step()  # also called on the micro-step: it must not advance
        opt.step()
        opt.zero_grad()
        sched.step()
        lrs.append([sched.last_epoch, *sched.get_last_lr(), *(g["weight_decay"] for g in opt.param_groups)])


def main(rank, out, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt, sched = make(model)
    lrs = [[sched.last_epoch, *sched.get_last_lr()]]
    train(rank, model, opt, sched, 0, SAVE_AT, lrs)
    ckpt = Path(out) / "ckpt.pt"
    if rank == 0:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, ckpt)
    dist.barrier()
    train(rank, model, opt, sched, SAVE_AT, END, lrs)  # the uninterrupted run
    # resume every rank from rank 0's checkpoint in a fresh model, optimizer and scheduler
    torch.manual_seed(0)
    model2 = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt2, sched2 = make(model2)
    state = torch.load(ckpt, weights_only=True)
    model2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])
    resumed = [[sched2.last_epoch, *sched2.get_last_lr()]]
    train(rank, model2, opt2, sched2, SAVE_AT, END, resumed)
    params = [p.detach().tolist() for p in model.parameters()]
    Path(out, f"rank{rank}.json").write_text(json.dumps({"lrs": lrs, "resumed": resumed, "params": params}))
    dist.barrier()  # both ranks done with their collectives: tearing gloo down mid-exchange aborts the process
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(main, args=(sys.argv[1], int(sys.argv[2])), nprocs=2, join=True)
