"""The project's one error for bad user input.

A `UserError` is a problem with what the user gave (a file, a path, an option): every command
prints its message on one line and exits with status 2, without a traceback. Subclasses name a
kind of input (`hw.modelfile.ModelError`: a malformed model file). Nothing here imports more
than the standard library, so every stage (train/, hw/, sim/) can raise it.
"""


class UserError(Exception):
    """A problem with what the user gave (a file, a path, an option): one line, exit 2."""
