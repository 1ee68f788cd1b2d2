"""State ``apply`` saves for ``rollback``, kept by the host for this run.

``rollback`` may run in a fresh instance, even in a later process (``medic recover``):
save what it needs before changing anything::

    from medic_guest import checkpoint

    checkpoint.save_text("moved", "\\n".join(paths))
    moved = (checkpoint.load_text("moved") or "").splitlines()
"""

from . import _host


def save(key: str, value: bytes) -> None:
    """Save ``value`` under ``key``, replacing what was there."""
    _host.call("checkpoint.save", lambda: _host.checkpoint.save(key, bytes(value)))


def load(key: str) -> bytes | None:
    """The bytes saved under ``key``, if any."""
    value = _host.call("checkpoint.load", lambda: _host.checkpoint.load(key))
    return None if value is None else bytes(value)


def save_text(key: str, value: str) -> None:
    """Save text under ``key``."""
    save(key, value.encode("utf-8"))


def load_text(key: str) -> str | None:
    """The text saved under ``key``, if any."""
    value = load(key)
    return None if value is None else value.decode("utf-8")
