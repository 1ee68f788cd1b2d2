"""{{name}}: ask a service on this host to reload through its loopback admin endpoint,
then check that it answers its health URL.

Replace the logic with your own; keep the shape. Every host call goes through
``medic_guest`` (exec, http, fs, env, log, checkpoint) and is allowed only when
remediation.toml grants it (and the operator's ceiling permits it). A refused call raises
``Denied``: let it propagate, never retry it another way. Import everything you need at
the top: the component is a snapshot taken at build time.

Parameters (declared in remediation.toml, checked by medic before anything runs):
- ``base_url``: the service's loopback base URL, e.g. ``http://127.0.0.1:9090``; the
  service answers ``POST /-/reload`` and ``GET /health``.
"""

from medic_guest import Denied, Failed, Incident, MedicError, Step, Verdict, checkpoint, export, http, log


def urls(incident: Incident) -> tuple[str, str]:
    """The reload and health URLs. Pure logic: test it natively (test_app.py)."""
    base = incident.require_param("base_url").rstrip("/")
    return f"{base}/-/reload", f"{base}/health"


class {{type_name}}:
    def plan(self, incident: Incident) -> list[Step]:
        """A dry run: say what apply would do. medic refuses every change while it runs."""
        reload, health = urls(incident)
        return [
            Step.http(f"POST {reload}", "ask the service to reload"),
            Step.http(f"GET {health}", "expect a 2xx answer"),
        ]

    def apply(self, incident: Incident) -> str:
        """Make the change. Save what rollback needs before changing anything."""
        reload, _ = urls(incident)
        checkpoint.save_text("reloaded", reload)
        log.progress(20, "asking for a reload")
        response = http.post(reload)
        if not 200 <= response.status < 300:
            raise Failed(f"POST {reload} answered {response.status}: {response.text.strip()}")
        return f"POST {reload} answered {response.status}"

    def verify(self, incident: Incident) -> Verdict:
        """Check the incident is healed."""
        _, health = urls(incident)
        try:
            response = http.get(health)
        except Denied:
            raise
        except MedicError as error:
            return Verdict.not_ok(f"GET {health}: {error}")
        if 200 <= response.status < 300:
            return Verdict.ok(f"GET {health} answered {response.status}")
        return Verdict.not_ok(f"GET {health} answered {response.status}")

    def rollback(self, incident: Incident) -> str:
        """Undo what apply did, from its checkpoints. A reload has no inverse."""
        url = checkpoint.load_text("reloaded")
        if url is None:
            return "nothing to undo: apply changed nothing"
        return f"nothing to undo: the reload at {url} has no inverse"


# componentize-py exports the class named `Remediation`.
Remediation = export({{type_name}})
