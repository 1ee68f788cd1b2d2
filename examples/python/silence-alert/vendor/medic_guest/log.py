"""Messages and progress for the operator, recorded with the run.

In plain Python (no host) they are printed to standard error instead.
"""

import sys

from . import _host


def _write(level: str, message: str) -> None:
    if _host.IN_SANDBOX:
        _host.log.write(getattr(_host.log.Level, level.upper()), message)
    else:
        print(f"{level}: {message}", file=sys.stderr)


def debug(message: str) -> None:
    """A debug message."""
    _write("debug", message)


def info(message: str) -> None:
    """An informational message."""
    _write("info", message)


def warn(message: str) -> None:
    """A warning."""
    _write("warn", message)


def error(message: str) -> None:
    """An error message (the remediation goes on; raise to stop)."""
    _write("error", message)


def progress(percent: int, message: str) -> None:
    """Progress from 0 to 100 with a short message."""
    percent = max(0, min(100, int(percent)))
    if _host.IN_SANDBOX:
        _host.log.progress(percent, message)
    else:
        print(f"progress {percent}%: {message}", file=sys.stderr)
