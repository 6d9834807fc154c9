"""What every command shares: a bad option or a user error is one line and exit status 2.

`Parser` is the argparse parser of every command (`python -m train|hw|sim|explore|demo`):
argparse prints its whole usage before an error; here the usage is for `--help` alone and an
error is the one line that names the option and what it accepts. `run` calls a command's body
and turns `UserError` into `error: ...` with exit 2 and Ctrl-C (or SIGTERM made into
KeyboardInterrupt) into exit 130, with the command's own words for each.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .errors import UserError

EXIT_USER = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line (subcommands' parsers are too)."""

    def error(self, message: str):
        self.exit(EXIT_USER, f"error: {message} (see {self.prog} --help)\n")


def run(body: Callable[[], int], *, on_user_error: Callable[[UserError], None] | None = None,
        interrupted: Callable[[], str] | None = None) -> int:
    """`body()`'s exit status; a UserError prints `error: MESSAGE` (after `on_user_error`,
    which may clean up) and gives 2, an interrupt prints `interrupted()` (default
    "interrupted") and gives 130."""
    try:
        return body()
    except UserError as e:
        if on_user_error is not None:
            on_user_error(e)
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(interrupted() if interrupted is not None else "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
