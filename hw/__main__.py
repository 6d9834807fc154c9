"""`python -m hw COMMAND ...`: check a model file, emit Verilog, build a bitstream, talk to a board.

User errors (a bad file, a missing path, an impossible option) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import UserError

# command -> module with add_arguments(parser) and main(args) -> int
COMMANDS = {
    "check": ("hw.check", "validate a model file and print its summary"),
    "verilog": ("hw.gen.cli", "generate top.v and manifest.json from a model file"),
    "bitstream": ("hw.board.build", "build a board bitstream for a run folder"),
    "host": ("hw.board.host", "run a test set on a board over its UART and compare"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_)
        try:
            modules[name] = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not module.startswith(e.name):
                raise
            continue  # a stage not built yet
        modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    if args.command not in modules:
        print(f"error: the {args.command!r} command is not available in this build",
              file=sys.stderr)
        return 2
    try:
        return modules[args.command].main(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
