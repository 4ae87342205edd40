"""Run in a fresh process by test_resume.py: for each case, build the same optimizer and scheduler, load the
checkpoint saved by the parent process, continue, and write the values of every step as JSON.

usage: python resume_worker.py CASES.pt OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from harness import advance, build, record  # noqa: E402


def main(cases_path: str, out_path: str) -> None:
    cases = torch.load(cases_path, weights_only=True)
    results = []
    for case in cases:
        ckpt = torch.load(case["checkpoint"], weights_only=True)  # plain data only: no pickled objects
        opt, sched = build(case, optimizer_state=ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        values = [record(opt, sched)]
        for step in range(case["save_at"], case["end"]):
            advance(opt, sched, case, step)
            values.append(record(opt, sched))
        results.append(values)
    Path(out_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
