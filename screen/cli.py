"""The `screen` command line (also installed as `scoliosis-screen`).

The CLI only parses options and calls the library.  Expected failures
(ScreenError) become one line on stderr and a non-zero exit; SCREEN_DEBUG=1
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import click
import typer
from rich.console import Console

from . import __version__
from ._cli import register_all
from .errors import ScreenError

app = typer.Typer(
    name="screen",
    help=(
        "Scoliosis screening from a video of a student walking.\n\n"
        "  screen VIDEO            one verdict for one video\n\n"
        "GNU screen owns the name `screen` on many systems: `scoliosis-screen` is the same tool."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err_console = Console(stderr=True, highlight=False)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(f"scoliosis-screen {__version__}")
        raise typer.Exit()


register_all(app)

#: The command `screen VIDEO` runs when the first argument is not a command name.
VIDEO_COMMAND = "video"


def _route(argv: list[str], command_names: set[str]) -> list[str]:
    """`screen VIDEO ...` -> `screen video VIDEO ...`: VIDEO is a path, not a subcommand."""
    if (
        argv
        and not argv[0].startswith("-")
        and argv[0] not in command_names
        and VIDEO_COMMAND in command_names
    ):
        return [VIDEO_COMMAND, *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of both console scripts; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    names = set(getattr(command, "commands", {}))
    try:
        result = command.main(args=_route(argv, names), prog_name="screen", standalone_mode=False)
    except ScreenError as error:
        if os.environ.get("SCREEN_DEBUG"):
            raise
        err_console.print(f"screen: error: {error}", markup=False, soft_wrap=True)
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Abort:
        err_console.print("screen: interrupted", markup=False)
        return 130
    except KeyboardInterrupt:
        err_console.print("screen: interrupted", markup=False)
        return 130
    return result if isinstance(result, int) else 0


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
