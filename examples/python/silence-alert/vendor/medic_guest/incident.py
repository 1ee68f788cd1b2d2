"""The incident a remediation receives, and the values it returns."""

from dataclasses import dataclass, field

from .errors import InvalidInput


@dataclass
class Incident:
    """The incident medic asks a remediation to heal.

    ``Incident("service", "web", "service_down", params={"port": "80"})`` builds one for a
    native test.
    """

    resource_kind: str
    resource_id: str
    issue_type: str
    params: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    id: str = "test"
    source: str = "cli"
    summary: str = ""

    def param(self, name: str, default: str | None = None) -> str | None:
        """The parameter ``name``, or ``default``."""
        return self.params.get(name, default)

    def require_param(self, name: str) -> str:
        """The parameter ``name``, or :class:`InvalidInput` naming it."""
        value = self.params.get(name)
        if value is None:
            raise InvalidInput(f"incident has no parameter `{name}`")
        return value

    def label(self, name: str, default: str | None = None) -> str | None:
        """The label ``name``, or ``default``."""
        return self.labels.get(name, default)


@dataclass
class Step:
    """One step of a plan: what ``apply`` would do, through which capability."""

    capability: str
    target: str
    detail: str

    @staticmethod
    def exec(target: str, detail: str) -> "Step":
        """A step that runs a program."""
        return Step("exec", target, detail)

    @staticmethod
    def http(target: str, detail: str) -> "Step":
        """A step that makes an HTTP request."""
        return Step("http", target, detail)

    @staticmethod
    def fs(target: str, detail: str) -> "Step":
        """A step that changes files."""
        return Step("fs", target, detail)

    @staticmethod
    def note(detail: str) -> "Step":
        """A step that touches nothing (a note for the operator)."""
        return Step("none", "", detail)


@dataclass
class Verdict:
    """What ``verify`` found."""

    healthy: bool
    detail: str

    @staticmethod
    def ok(detail: str) -> "Verdict":
        """The incident is healed."""
        return Verdict(True, detail)

    @staticmethod
    def not_ok(detail: str) -> "Verdict":
        """The incident is not healed."""
        return Verdict(False, detail)
