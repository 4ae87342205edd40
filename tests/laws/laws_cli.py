"""The one way the laws' CLI tests call ``lrkit``: in this process, returning ``(exit code, stdout, stderr)``."""

from __future__ import annotations

import pytest

from lrkit.cli import main


def run_cli(args, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err
