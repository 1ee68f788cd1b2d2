"""Environment variables the manifest declares, through the host's ``env`` capability.

The component's own environment (``os.environ``) is empty: a remediation sees only the
names its manifest lists, and each read is audited.
"""

from . import _host


def get(name: str) -> str | None:
    """The value of ``name``, or ``None`` when the host does not set it."""
    return _host.call("env.get", lambda: _host.env.get(name))
