"""Write medic remediations in Python.

A remediation is a class with four methods, each taking an :class:`Incident`::

    from medic_guest import Incident, Step, Verdict, Failed, export, http

    class ReloadIt:
        def plan(self, incident: Incident) -> list[Step]: ...
        def apply(self, incident: Incident) -> str: ...
        def verify(self, incident: Incident) -> Verdict: ...
        def rollback(self, incident: Incident) -> str: ...

    Remediation = export(ReloadIt)   # componentize-py exports the name `Remediation`

Everything it may touch goes through the modules here, one per capability:
:mod:`medic_guest.exec`, :mod:`medic_guest.http`, :mod:`medic_guest.fs`,
:mod:`medic_guest.env`, plus :mod:`medic_guest.log` and :mod:`medic_guest.checkpoint`.
Each call is checked by medic against the remediation's manifest and the operator's
risk ceiling, and recorded in medic's audit log. A refused call raises :class:`Denied`;
a call that was allowed but failed raises :class:`Failed` (or :class:`NotFound`).

The contract is medic's WIT (``medic:remediation@0.2.0``); componentize-py generates the
bindings (``wit_world``) when ``medic build`` builds the component. In plain Python (a
native ``python3 -m unittest``) there is no host: every host call raises
:class:`NotInSandbox` and does nothing, and :mod:`medic_guest.log` prints to stderr.

Python's own files and sockets are not reachable: ``open()`` and ``socket`` raise
``OSError`` inside the sandbox. Import every module you need at the top of ``app.py``:
componentize-py snapshots the interpreter at build time and cannot import later.
"""

from .errors import Denied, Failed, InvalidInput, MedicError, NotFound, NotInSandbox
from .incident import Incident, Step, Verdict
from .export import export
from . import checkpoint, env, exec, fs, http, log

__all__ = [
    "Denied",
    "Failed",
    "Incident",
    "InvalidInput",
    "MedicError",
    "NotFound",
    "NotInSandbox",
    "Step",
    "Verdict",
    "checkpoint",
    "env",
    "exec",
    "export",
    "fs",
    "http",
    "log",
]
