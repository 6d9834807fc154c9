"""`python -m hw COMMAND ...`: check a model file, emit Verilog, build a bitstream, talk to a board.

User errors (a bad file, a missing path, an impossible option) print one line and exit 2.
"""

from __future__ import annotations

import importlib
import sys

from .cli import Parser, run

# command -> module with add_arguments(parser) and main(args) -> int
COMMANDS = {
    "check": ("hw.check", "validate a model file and print its summary"),
    "verilog": ("hw.gen.cli", "generate top.v and manifest.json from a model file"),
    "bitstream": ("hw.board.bitstream", "build a board bitstream for a run folder"),
    "host": ("hw.board.host", "run a test set on a board over its UART and compare"),
    "load": ("hw.board.load", "load a model into a board running a reloadable design"),
}


def main(argv=None) -> int:
    parser = Parser(prog="python -m hw", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module, help_) in COMMANDS.items():
        modules[name] = importlib.import_module(module)
        modules[name].add_arguments(sub.add_parser(name, help=help_))
    args = parser.parse_args(argv)
    return run(lambda: modules[args.command].main(args))


if __name__ == "__main__":
    sys.exit(main())
