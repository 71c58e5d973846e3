"""The `screen` command line (also installed as `scoliosis-screen`).

The CLI only parses options and calls the library.  Expected failures
(ScreenError) become one line on stderr and a non-zero exit; SCREEN_DEBUG=1
shows the traceback instead.  Usage errors (unknown option, missing argument)
are click's short usage message and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import shlex
import sys

import typer
from rich.console import Console

from . import __version__
from ._cli import register_all
from ._cli.quiet import quiet_third_parties
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


def _click_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(ClickException, Exit, Abort) classes of the click that typer really runs on.

    typer >= 0.2x parses with its own vendored copy of click, whose exceptions are not
    plain click's, so `except click.ClickException` misses them and a usage error becomes a
    traceback.  typer.BadParameter / Exit / Abort are public and always belong to the click
    in use, so the base class is found from them, not from a private module path; plain
    click's classes are added in case some code path still raises those.
    """
    base = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    errors, exits, aborts = [base], [typer.Exit], [typer.Abort]
    try:
        import click
    except ImportError:  # typer with a vendored click does not need click installed
        pass
    else:
        errors.append(click.ClickException)
        exits.append(click.exceptions.Exit)
        aborts.append(click.exceptions.Abort)
    return tuple(set(errors)), tuple(set(exits)), tuple(set(aborts))


_CLICK_ERROR, _CLICK_EXIT, _CLICK_ABORT = _click_exceptions()


#: Options of `screen` itself; any other first argument belongs to `screen VIDEO`.
ROOT_OPTIONS = frozenset({"--help", "--version"})


def _route(
    argv: list[str], command_names: set[str], root_options: frozenset[str] = ROOT_OPTIONS
) -> list[str]:
    """`screen VIDEO ...` -> `screen video VIDEO ...`: VIDEO is a path, not a subcommand.

    Options before VIDEO (`screen --json - walk.mp4`) and `screen -- -x.mp4` (a name that
    starts with '-') are routed too; only the root's own options stay at the root.
    """
    if (
        not argv
        or VIDEO_COMMAND not in command_names
        or argv[0] in command_names
        or argv[0] in root_options
    ):
        return argv
    return [VIDEO_COMMAND, *argv]


def _looks_like_a_file(arg: str) -> bool:
    """`-x.mp4`, `--walk.pkl`: an argument with a dash that names a file, not an option."""
    return "=" not in arg and (os.path.splitext(arg)[1] != "" or os.path.exists(arg))


def _dash_file_hint(error: Exception, argv: list[str]) -> None:
    """Rewrite "No such option: -x" for `screen -x.mp4` into how to name such a file."""
    option = getattr(error, "option_name", None)
    if not option or "--" in argv:
        return
    arg = next((a for a in argv if a.startswith(option) and _looks_like_a_file(a)), None)
    if arg is None:
        return
    others = list(argv)
    others.remove(arg)
    fixed = shlex.join(["screen", *others, "--", arg])
    error.message = (
        f"No such option: {arg}; to name a file that starts with '-', write `{fixed}` (or ./{arg})"
    )
    error.possibilities = None  # "did you mean --x?" only confuses here


def main(argv: list[str] | None = None) -> int:
    """Entry point of both console scripts; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    quiet_third_parties(verbose=bool({"-v", "--verbose"} & set(argv)))
    command = typer.main.get_command(app)
    names = set(getattr(command, "commands", {}))
    root_options = frozenset(o for p in command.params for o in p.opts) | ROOT_OPTIONS
    try:
        result = command.main(
            args=_route(argv, names, root_options), prog_name="screen", standalone_mode=False
        )
    except ScreenError as error:
        if os.environ.get("SCREEN_DEBUG"):
            raise
        err_console.print(f"screen: error: {error}", markup=False, soft_wrap=True)
        return error.exit_code
    except _CLICK_EXIT as done:
        return done.exit_code
    except _CLICK_ERROR as error:
        # Usage errors: usage line, "Try 'screen ... --help' for help.", "Error: ...", exit 2.
        _dash_file_hint(error, argv)
        error.show()
        return error.exit_code
    except (*_CLICK_ABORT, KeyboardInterrupt):
        err_console.print("screen: interrupted", markup=False)
        return 130
    return result if isinstance(result, int) else 0


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
