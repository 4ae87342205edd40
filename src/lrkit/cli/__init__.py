"""The ``lrkit`` command line: thin wrappers that parse arguments, call the library and print with rich.

Built on click. Any invalid input ends with one line on stderr naming the problem and exit code 2,
never a traceback.
"""

from __future__ import annotations

import sqlite3
import sys
import warnings

import click

from ..errors import SpecError

#: ``lrkit --help`` lists the commands in the order of the work: look at a schedule, predict, compare.
#: A name not registered (yet) is skipped; a registered command missing here comes last.
WORKFLOW = ("show", "lint", "families", "fit", "predict", "plan", "refine", "find-lr", "bench", "runs", "export",
            "report", "demo")


class Commands(click.Group):
    """A group that lists its commands in :data:`WORKFLOW` order, each with its whole first sentence."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands)
        return [n for n in WORKFLOW if n in names] + sorted(names - set(WORKFLOW))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:  # write_dl wraps a long summary under itself instead of cutting it
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="lrkit", prog_name="lrkit")
def cli() -> None:
    """lrkit: learning-rate schedules you can write in one line, see, lint, predict and plan.

    \b
    Examples:
      lrkit show 'cosine(warmup=0.05, floor=0.1)' --steps 10000 --lr 3e-4
      lrkit show 'wsd(decay=0.2)' 'cosine()' --steps 10000 -f png -o cmp.png
      lrkit lint 'sequence(linear(), cosine(), boundaries=[500])' --steps 1000
    """


def _register() -> None:
    from . import adaptive, bench, demo, families, find_lr, laws, show

    for module in (show, demo, bench, laws, adaptive, find_lr, families):
        module.register(cli)


_register()


def error(message: str, code: int = 2) -> None:
    """Print one line on stderr and exit."""
    click.echo(f"lrkit: error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as the CLI prints it: one line naming what it is about, no source location."""
    return f"lrkit: warning: {' '.join(str(message).split())}\n"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``lrkit`` script."""
    warnings.formatwarning = _one_line_warning
    try:
        rc = cli.main(args=argv, prog_name="lrkit", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # plain ``lrkit``: the help, as ``lrkit --help`` prints it
        click.echo(e.ctx.get_help() if e.ctx is not None else cli.get_help(click.Context(cli, info_name="lrkit")))
        rc = 0
    except click.exceptions.UsageError as e:
        hint = f" (see: lrkit {e.ctx.command.name} --help)" if e.ctx is not None and e.ctx.command is not cli else \
            " (see: lrkit --help)"
        if "(see: " in e.format_message():  # the message already says where to look
            hint = ""
        error(e.format_message() + hint)
    except click.exceptions.Abort:
        error("aborted", 130)
    except click.ClickException as e:
        error(e.format_message())
    except SpecError as e:
        error(str(e))
    except ValueError as e:  # RunError, LawError and other input problems raised by the library
        error(str(e))
    except ImportError as e:  # an optional dependency, imported when a command needs it
        error(f"{e}; install lrkit's extras, e.g. pip install 'lrkit[all]'")
    except OSError as e:
        error(f"{e.strerror or e}: {e.filename}" if getattr(e, "filename", None) else str(e))
    except sqlite3.Error as e:  # a benchmark database that is locked, full or damaged
        error(f"database error: {e}")
    except MemoryError as e:  # e.g. --steps 1e9: every step's LR is an array element
        error(f"out of memory ({e or 'allocation failed'}); ask for fewer steps")
    except KeyboardInterrupt:
        error("interrupted", 130)
    sys.exit(rc if isinstance(rc, int) else 0)
