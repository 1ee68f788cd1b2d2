"""Turning a remediation class into the component's ``remediation`` export."""

import traceback

from . import _host
from .errors import Denied, Failed, InvalidInput, MedicError, NotFound
from .incident import Incident, Step, Verdict


def _incident(wit) -> Incident:
    return Incident(
        resource_kind=wit.resource_kind,
        resource_id=wit.resource_id,
        issue_type=wit.issue_type,
        params=dict(wit.params),
        labels=dict(wit.labels),
        id=wit.id,
        source=wit.source,
        summary=wit.summary,
    )


def _host_error(error: Exception):
    types = _host.types
    if isinstance(error, Denied):
        return types.HostError_Denied(error.message)
    if isinstance(error, NotFound):
        return types.HostError_NotFound(error.message)
    if isinstance(error, InvalidInput):
        return types.HostError_InvalidInput(error.message)
    if isinstance(error, MedicError):
        return types.HostError_Failed(error.message)
    # Any other exception is the remediation's own failure, not a trap.
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
    return types.HostError_Failed(f"{type(error).__name__}: {error}{where}")


def _guarded(method):
    def call(self, wit_incident):
        try:
            return method(self, _incident(wit_incident))
        except Exception as error:  # every failure goes back to medic as a host-error
            raise _host.Err(_host_error(error)) from None

    return call


def export(implementation: type) -> type:
    """The class componentize-py exports for ``implementation``.

    ``implementation`` has ``plan``, ``apply``, ``verify`` and ``rollback``, each taking
    an :class:`Incident`. Write ``Remediation = export(MyFix)`` at the end of ``app.py``.
    In plain Python this returns ``implementation`` itself, for native tests.
    """
    missing = [name for name in ("plan", "apply", "verify", "rollback") if not hasattr(implementation, name)]
    if missing:
        raise TypeError(f"{implementation.__name__} lacks {', '.join(missing)}")
    if not _host.IN_SANDBOX:
        return implementation
    types = _host.types
    inner = implementation()

    def plan(self, incident: Incident):
        steps = inner.plan(incident)
        return [types.Step(capability=s.capability, target=s.target, detail=s.detail) for s in steps]

    def apply(self, incident: Incident):
        return str(inner.apply(incident))

    def verify(self, incident: Incident):
        verdict: Verdict = inner.verify(incident)
        return types.Verdict(healthy=bool(verdict.healthy), detail=verdict.detail)

    def rollback(self, incident: Incident):
        return str(inner.rollback(incident))

    from wit_world import exports

    return type(
        "Remediation",
        (exports.Remediation,),
        {
            "plan": _guarded(plan),
            "apply": _guarded(apply),
            "verify": _guarded(verify),
            "rollback": _guarded(rollback),
            "__doc__": implementation.__doc__,
        },
    )


__all__ = ["export", "Step", "Verdict"]
