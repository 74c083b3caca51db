"""One exception hierarchy for every way in: each kind of error carries its exit code and HTTP status, here only."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")

# Exit codes, for every command: 0 done; 1 done, but some items failed (sync: a download refused or damaged);
# 2 stopped with one `error: …` line and nothing changed (a setting, file, index, log or site it cannot use).
EXIT_OK, EXIT_SOME_FAILED, EXIT_STOPPED = 0, 1, 2


class AssistantError(Exception):
    """An error the program reports in one line; its kind below says the exit code and HTTP status."""

    exit_code = EXIT_STOPPED
    http_status = 500


class BadInput(AssistantError):
    """A setting, argument, file or request value that cannot be used; the message names it."""

    http_status = 400


class NotFound(AssistantError):
    """A request naming something that does not exist."""

    http_status = 404


class Unavailable(AssistantError):
    """Something needed (an index, the query log, the site) that cannot be read or written right now."""

    http_status = 503


class WriteFailed(AssistantError):
    """Output that could not be written (disk full, no permission); what was there before is unchanged."""

    http_status = 500


# What a command reports as one line rather than a traceback: its own errors, and files or values from outside.
EXPECTED = (AssistantError, OSError, ValueError)


def exit_code(error: BaseException) -> int:
    """The exit code for an expected error."""
    return error.exit_code if isinstance(error, AssistantError) else EXIT_STOPPED


def command(main: Callable[P, int]) -> Callable[P, int]:
    """A command's `main`, reporting an expected error as one `error: …` line on stderr and its exit code."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except EXPECTED as error:
            print(f"error: {error}", file=sys.stderr)
            return exit_code(error)

    return run
