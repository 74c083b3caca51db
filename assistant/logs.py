"""One log format for every command: progress and warnings on stderr; `--quiet` and `--verbose` say how much."""

from __future__ import annotations

import logging
import sys

# --quiet: warnings and errors only; default: progress too; --verbose: every step.
LEVELS = {-1: logging.WARNING, 0: logging.INFO, 1: logging.DEBUG}


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is when a record comes, not when the handler was made (tests replace it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _Format(logging.Formatter):
    """Progress as its message alone; anything else after its level: `warning: the tuned model … is gone`."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


def _install() -> logging.Logger:
    """The package's logger, with the one handler every command writes through (records still reach the root)."""
    logger = logging.getLogger("assistant")
    if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_Format())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def get_logger(name: str) -> logging.Logger:
    """A module's logger (`__name__`), writing through the one handler."""
    _install()
    return logging.getLogger(name)


def setup_logging(verbosity: int = 0) -> None:
    """Set how much every command says: -1 (--quiet) warnings and errors, 0 progress too, 1 (--verbose) every step."""
    _install().setLevel(LEVELS[max(-1, min(1, verbosity))])
