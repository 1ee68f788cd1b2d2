"""silence-alert: while a human looks into a flapping alert, silence it in Alertmanager for a
bounded time, and lift the silence on rollback.

``apply`` creates one silence through Alertmanager's API v2 (``POST /api/v2/silences``)
whose matchers name the alert exactly (``alertname``, and ``instance`` when the incident
has one), starting now and ending after ``duration`` (at most a day, so a forgotten
silence ends by itself). It saves the silence's ID as a checkpoint as soon as Alertmanager
returns it, before anything else can fail. ``verify`` reads the silence back
(``GET /api/v2/silence/{id}``) and is satisfied only when it is active with exactly the
matchers asked for. ``rollback`` expires it (``DELETE /api/v2/silence/{id}``). Without a
saved ID there is nothing to undo when Alertmanager refused the silence; when the request
failed or the answer named no ID, rollback fails, naming the silence a human should look
for (a request can fail after Alertmanager acted on it).

Parameters (declared in remediation.toml, checked by medic before anything runs):
- ``alertmanager_url``: Alertmanager's loopback base URL, e.g. ``http://127.0.0.1:9093``;
- ``alertname``: the alert to silence; by default the incident's label ``alertname``;
- ``instance``: optional, narrows the silence to one instance; by default the incident's
  label ``instance``, when it has one;
- ``duration``: how long the silence lasts, ``1m`` to ``24h`` (``90m``, ``2h``); default ``2h``;
- ``comment``: why, for whoever reads Alertmanager's silences; medic adds the incident's ID.

Every module is imported here, at the top: componentize-py snapshots the interpreter when
``medic build`` runs, and nothing can be imported later.
"""

import json
import re
from datetime import datetime, timedelta, timezone

from medic_guest import (
    Denied,
    Failed,
    Incident,
    InvalidInput,
    MedicError,
    Step,
    Verdict,
    checkpoint,
    export,
    http,
    log,
)

#: The shortest silence: anything shorter ends before a human has looked.
MIN_DURATION = timedelta(minutes=1)
#: The longest silence: a forgotten one ends within a day and the alert speaks again.
MAX_DURATION = timedelta(hours=24)
#: Alertmanager on this host only, as the manifest's pattern says; checked again here so
#: the logic stands on its own in native tests.
BASE_URL = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}/?")
#: A duration's form: whole minutes or whole hours, no leading zero.
DURATION = re.compile(r"([1-9][0-9]{0,3})([mh])")
#: A silence ID, as Alertmanager makes them and its API takes them: a UUID. Anything else
#: (a `/`, `..`, `?`) from a confused or hostile server is refused, never put in a URL.
SILENCE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: The checkpoint holding the silence's ID, saved as soon as Alertmanager returns it.
SILENCE_KEY = "silence_id"
#: The checkpoint holding the silence asked for, saved before asking.
REQUEST_KEY = "requested"
#: The checkpoint holding Alertmanager's status when it refused the silence (made none).
REFUSED_KEY = "refused"
#: Who Alertmanager shows as the silence's author.
CREATED_BY = "medic"


def base_url(incident: Incident) -> str:
    """Alertmanager's base URL, without a trailing slash."""
    url = incident.require_param("alertmanager_url")
    if not BASE_URL.fullmatch(url):
        raise InvalidInput(f"`alertmanager_url` must be http://127.0.0.1:PORT, got `{url}`")
    return url.rstrip("/")


def silences_url(incident: Incident) -> str:
    """Where silences are created."""
    return f"{base_url(incident)}/api/v2/silences"


def silence_url(incident: Incident, silence_id: str) -> str:
    """Where one silence is read and expired."""
    return f"{base_url(incident)}/api/v2/silence/{checked_id(silence_id)}"


def planned_silence_url(incident: Incident) -> str:
    """:func:`silence_url` before the silence exists, for the plan."""
    return f"{base_url(incident)}/api/v2/silence/{{silenceID}}"


def checked_id(silence_id: str) -> str:
    """``silence_id`` when it is safe to put in a URL path, else :class:`Failed`."""
    if not SILENCE_ID.fullmatch(silence_id):
        raise Failed(f"Alertmanager returned the silence ID `{silence_id[:80]}`, which is not a UUID")
    return silence_id


def parse_duration(text: str) -> timedelta:
    """``90m`` or ``2h`` as a duration from 1m to 24h, else :class:`InvalidInput`."""
    found = DURATION.fullmatch(text)
    if not found:
        raise InvalidInput(f"`duration` must be minutes or hours such as `90m` or `2h`, got `{text}`")
    amount, unit = int(found.group(1)), found.group(2)
    duration = timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount)
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise InvalidInput(f"`duration` must be from 1m to 24h, got `{text}`")
    return duration


def matchers(incident: Incident) -> list[dict]:
    """The silence's matchers: the alert's name and, when given, its instance; exact
    equality only, never a regex."""
    wanted = [("alertname", incident.require_param("alertname"))]
    instance = incident.param("instance")
    if instance:
        wanted.append(("instance", instance))
    return [{"name": name, "value": value, "isRegex": False, "isEqual": True} for name, value in wanted]


def describe(found: list[dict]) -> str:
    """Matchers as Alertmanager's UI writes them: ``alertname="X", instance="Y"``."""
    return ", ".join(f'{m["name"]}="{m["value"]}"' for m in found)


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC, as RFC 3339 with a ``Z`` (what Alertmanager expects)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def silence_request(incident: Incident, now: datetime) -> dict:
    """The silence to create, as Alertmanager's API v2 takes it: from ``now`` for
    ``duration``, by medic, with the comment and the incident's ID."""
    duration = parse_duration(incident.require_param("duration"))
    comment = incident.require_param("comment")
    return {
        "matchers": matchers(incident),
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + duration),
        "createdBy": CREATED_BY,
        "comment": f"{comment} (medic incident {incident.id})",
    }


def answered(method: str, url: str, status: int, text: str) -> str:
    """``METHOD URL answered STATUS``, and what Alertmanager said, cut short."""
    said = text.strip()[:300]
    return f"{method} {url} answered {status}" + (f": {said}" if said else "")


def parse_json(text: str, what: str):
    """``text`` as JSON, else :class:`Failed` naming ``what`` it should have been."""
    try:
        return json.loads(text)
    except ValueError:
        raise Failed(f"{what} is not JSON: `{text.strip()[:200]}`") from None


def created_id(text: str) -> str:
    """The ``silenceID`` in the answer to ``POST /api/v2/silences``."""
    answer = parse_json(text, "Alertmanager's answer to the new silence")
    silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
    if not isinstance(silence_id, str):
        raise Failed(f"Alertmanager's answer has no `silenceID`: `{text.strip()[:200]}`")
    return checked_id(silence_id)


def without_id(requested: str | None, refused: str | None) -> str:
    """What rollback says when apply saved no silence ID: nothing to undo when nothing was
    asked or Alertmanager refused. Otherwise the request failed or the answer named no ID,
    and a silence may exist that medic cannot name (a request can fail after Alertmanager
    acted on it): that is :class:`Failed`, for a human to find it by what was asked."""
    if requested is None:
        return "nothing to undo: apply changed nothing"
    if refused is not None:
        return f"nothing to undo: Alertmanager refused the silence ({refused}) and made none"
    request = json.loads(requested)
    raise Failed(
        "medic has no ID for the silence it asked for (no answer, or an answer without one), "
        f"so cannot lift it if Alertmanager made it: look for a silence by `{request['createdBy']}` "
        f"for {describe(request['matchers'])} ending at {request['endsAt']}"
    )


def already_undone(silence_id: str, status: int, text: str) -> str | None:
    """What rollback says when ``GET /api/v2/silence/{id}`` (answering ``status`` and
    ``text``) shows there is nothing left to lift, or ``None`` when there may be."""
    if status == 404:
        return f"nothing to undo: Alertmanager no longer knows silence {silence_id}"
    if status == 200 and silence_state(text)[0] == "expired":
        return f"nothing to undo: silence {silence_id} had already expired"
    return None


def matcher_key(matcher: dict) -> tuple:
    """A matcher as a comparable value; ``isEqual`` is true when left out (older
    Alertmanagers do not send it)."""
    return (
        matcher.get("name"),
        matcher.get("value"),
        bool(matcher.get("isRegex", False)),
        bool(matcher.get("isEqual", True)),
    )


def silence_state(text: str) -> tuple[str, list[dict]]:
    """The state (``active``, ``pending``, ``expired``) and matchers of a silence as
    ``GET /api/v2/silence/{id}`` answers."""
    silence = parse_json(text, "Alertmanager's silence")
    if not isinstance(silence, dict):
        raise Failed(f"Alertmanager's silence is not an object: `{text.strip()[:200]}`")
    status = silence.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    found = silence.get("matchers")
    if not isinstance(state, str) or not isinstance(found, list):
        raise Failed(f"Alertmanager's silence has no `status.state` or `matchers`: `{text.strip()[:200]}`")
    return state, [m for m in found if isinstance(m, dict)]


def judge(silence_id: str, text: str, wanted: list[dict]) -> Verdict:
    """Whether the silence Alertmanager shows is the one asked for, and silencing now."""
    state, found = silence_state(text)
    if sorted(map(matcher_key, found)) != sorted(map(matcher_key, wanted)):
        return Verdict.not_ok(
            f"silence {silence_id} matches {describe(found)}, not {describe(wanted)}"
        )
    if state != "active":
        return Verdict.not_ok(f"silence {silence_id} is {state}, not active")
    return Verdict.ok(f"silence {silence_id} is active for {describe(wanted)}")


class SilenceAlert:
    """Silence one flapping alert in Alertmanager for a bounded time; rollback lifts it."""

    def plan(self, incident: Incident) -> list[Step]:
        """The silence apply would create and how it is checked; nothing is sent."""
        wanted = matchers(incident)
        duration = incident.require_param("duration")
        parse_duration(duration)  # out of bounds: the plan stops here, as apply would
        one = planned_silence_url(incident)
        return [
            Step.http(f"POST {silences_url(incident)}", f"silence {describe(wanted)} for {duration}, by {CREATED_BY}"),
            Step.http(f"GET {one}", "expect the silence active with exactly those matchers"),
            Step.note(f"rollback: DELETE {one} lifts it; otherwise it ends by itself after {duration}"),
        ]

    def apply(self, incident: Incident) -> str:
        """Create the silence; save its ID before anything else can fail."""
        request = silence_request(incident, datetime.now(timezone.utc))
        url = silences_url(incident)
        checkpoint.save_text(REQUEST_KEY, json.dumps(request))
        log.progress(20, f"silencing {describe(request['matchers'])} until {request['endsAt']}")
        response = http.post(url, json.dumps(request).encode("utf-8"), [("Content-Type", "application/json")])
        if response.status != 200:
            checkpoint.save_text(REFUSED_KEY, str(response.status))
            raise Failed(answered("POST", url, response.status, response.text))
        silence_id = created_id(response.text)
        checkpoint.save_text(SILENCE_KEY, silence_id)
        return f"silence {silence_id} for {describe(request['matchers'])} until {request['endsAt']}"

    def verify(self, incident: Incident) -> Verdict:
        """The silence exists, is active and matches exactly what was asked."""
        silence_id = checkpoint.load_text(SILENCE_KEY)
        if silence_id is None:
            return Verdict.not_ok("apply saved no silence ID")
        url = silence_url(incident, silence_id)
        try:
            response = http.get(url)
        except Denied:
            raise
        except MedicError as error:
            return Verdict.not_ok(f"GET {url}: {error}")
        if response.status != 200:
            return Verdict.not_ok(answered("GET", url, response.status, response.text))
        return judge(silence_id, response.text, matchers(incident))

    def rollback(self, incident: Incident) -> str:
        """Expire the silence apply created, named by its checkpoint."""
        silence_id = checkpoint.load_text(SILENCE_KEY)
        if silence_id is None:
            return without_id(checkpoint.load_text(REQUEST_KEY), checkpoint.load_text(REFUSED_KEY))
        url = silence_url(incident, silence_id)
        response = http.delete(url)
        if response.status == 200:
            return f"lifted silence {silence_id}"
        refused = Failed(answered("DELETE", url, response.status, response.text))
        # A silence that is gone or has ended is not silencing: ask which it is.
        try:
            check = http.get(url)
            undone = already_undone(silence_id, check.status, check.text)
        except Denied:
            raise
        except MedicError:
            raise refused from None
        if undone is None:
            raise refused
        return undone


# componentize-py exports the class named `Remediation`.
Remediation = export(SilenceAlert)
