"""DDP with the gloo backend, two processes on this machine: every rank has the same LRs, before and after a
resume from rank 0's checkpoint, and accumulation micro-steps do not advance the schedule."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

import lrkit

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")

WORKER = Path(__file__).with_name("ddp_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_ranks_agree_and_resume_exactly(tmp_path):
    proc = subprocess.run([sys.executable, str(WORKER), str(tmp_path), str(free_port())], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1))
    assert r0["params"] == r1["params"]  # DDP really synchronised the ranks (different data on each)
    assert r0["lrs"] == r1["lrs"] and r0["resumed"] == r1["resumed"]
    lrs = r0["lrs"]
    assert [row[0] for row in lrs] == list(range(35))  # one step per optimizer step, none per micro-step
    wsd, cos = lrkit.parse("wsd(warmup=3, decay=0.4, floor=0.1)"), lrkit.parse("cosine(warmup=0.1, floor=0.05)")
    assert [row[1:3] for row in lrs] == [[1e-3 * wsd(t, 30), 1e-2 * cos(t, 30)] for t in range(35)]
    # the resumed ranks continue bit-identically from step 12
    assert [row[:3] for row in r0["resumed"]] == [row[:3] for row in lrs[12:]]
    assert r0["resumed"][1:] == lrs[13:]
