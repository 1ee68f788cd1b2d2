"""Native tests of the pure logic: `python3 -m unittest` (no medic, no host)."""

import json
import re
import sys
import tomllib
import unittest
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "vendor"))

from medic_guest import Failed, Incident, InvalidInput, NotInSandbox  # noqa: E402

import app  # noqa: E402

NOW = datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=timezone.utc)
ID = "2f8f0b3c-5b6e-4d7a-9c1e-0a1b2c3d4e5f"


def incident(**params) -> Incident:
    """A flapping-alert incident with the manifest's defaults, overridden by ``params``."""
    values = {
        "alertmanager_url": "http://127.0.0.1:9093",
        "alertname": "HighLatency",
        "duration": "2h",
        "comment": "looking into it",
    }
    values.update(params)
    values = {name: value for name, value in values.items() if value is not None}
    return Incident("service", "web-01", "alert_flapping", params=values, id="inc-7")


def matcher(name: str, value: str, **flags) -> dict:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True, **flags}


def silence(state: str, *matchers: dict) -> str:
    return json.dumps({"id": ID, "status": {"state": state}, "matchers": list(matchers)})


class UrlsTest(unittest.TestCase):
    def test_urls_come_from_the_base_url(self):
        for base in ["http://127.0.0.1:9093", "http://127.0.0.1:9093/"]:
            with self.subTest(base=base):
                given = incident(alertmanager_url=base)
                self.assertEqual(app.silences_url(given), "http://127.0.0.1:9093/api/v2/silences")
                self.assertEqual(app.silence_url(given, ID), f"http://127.0.0.1:9093/api/v2/silence/{ID}")

    def test_a_base_url_off_loopback_is_invalid_input(self):
        for base in ["http://10.0.0.7:9093", "https://127.0.0.1:9093", "http://127.0.0.1:9093/x", "http://localhost:9093"]:
            with self.subTest(base=base), self.assertRaises(InvalidInput):
                app.silences_url(incident(alertmanager_url=base))

    def test_a_silence_id_that_is_not_a_uuid_is_refused(self):
        for silence_id in ["../silences", "a/b", "x?y", "", "%2e%2e", ID + "/..", ID[:-1] + "g", "silence-1"]:
            with self.subTest(silence_id=silence_id), self.assertRaises(Failed):
                app.silence_url(incident(), silence_id)


class AnsweredTest(unittest.TestCase):
    def test_an_answer_names_the_request_and_what_alertmanager_said(self):
        url = "http://127.0.0.1:9093/api/v2/silences"
        cases = [
            (400, '"invalid"\n', f'POST {url} answered 400: "invalid"'),
            (404, "", f"POST {url} answered 404"),
            (500, "x" * 400, f"POST {url} answered 500: {'x' * 300}"),
        ]
        for status, text, expected in cases:
            with self.subTest(status=status):
                self.assertEqual(app.answered("POST", url, status, text), expected)


class DurationTest(unittest.TestCase):
    def test_minutes_and_hours_from_one_minute_to_a_day(self):
        cases = [("1m", timedelta(minutes=1)), ("90m", timedelta(minutes=90)), ("2h", timedelta(hours=2)),
                 ("1440m", timedelta(hours=24)), ("24h", timedelta(hours=24))]
        for text, expected in cases:
            with self.subTest(text=text):
                self.assertEqual(app.parse_duration(text), expected)

    def test_anything_else_is_invalid_input(self):
        for text in ["0m", "25h", "1441m", "2d", "1h30m", "", "h", "-1h", "2 h", "99999h", "02h"]:
            with self.subTest(text=text), self.assertRaises(InvalidInput):
                app.parse_duration(text)


class ManifestTest(unittest.TestCase):
    """The manifest's patterns, which medic checks before anything runs, accept exactly
    what the logic accepts."""

    def pattern(self, name: str) -> re.Pattern:
        manifest = tomllib.loads((Path(__file__).parent / "remediation.toml").read_text())
        (param,) = [param for param in manifest["params"] if param["name"] == name]
        return re.compile(param["pattern"])

    def accepts(self, text: str, parse) -> bool:
        try:
            parse(text)
            return True
        except InvalidInput:
            return False

    def test_the_duration_pattern_is_the_bounds_of_parse_duration(self):
        pattern = self.pattern("duration")
        texts = [f"{n}{unit}" for n in range(0, 1500) for unit in "mh"] + ["", "2d", "02h", "060m", "1h30m"]
        for text in texts:
            with self.subTest(text=text):
                self.assertEqual(bool(pattern.fullmatch(text)), self.accepts(text, app.parse_duration))

    def test_the_url_pattern_is_the_logics(self):
        pattern = self.pattern("alertmanager_url")
        for url in ["http://127.0.0.1:9093", "http://127.0.0.1:9093/", "http://127.0.0.2:9093", "http://localhost:9093",
                    "https://127.0.0.1:9093", "http://127.0.0.1:9093/api", "http://127.0.0.1:123456"]:
            with self.subTest(url=url):
                self.assertEqual(
                    bool(pattern.fullmatch(url)),
                    self.accepts(url, lambda url: app.base_url(incident(alertmanager_url=url))),
                )


class RequestTest(unittest.TestCase):
    def test_the_silence_asked_for(self):
        self.assertEqual(
            app.silence_request(incident(instance="web-01:9100", duration="90m"), NOW),
            {
                "matchers": [matcher("alertname", "HighLatency"), matcher("instance", "web-01:9100")],
                "startsAt": "2026-12-05T09:30:15Z",
                "endsAt": "2026-12-05T11:00:15Z",
                "createdBy": "medic",
                "comment": "looking into it (medic incident inc-7)",
            },
        )

    def test_without_an_instance_only_the_alert_name_matches(self):
        self.assertEqual(app.matchers(incident()), [matcher("alertname", "HighLatency")])
        self.assertEqual(app.matchers(incident(instance="")), [matcher("alertname", "HighLatency")])

    def test_times_are_utc_whatever_the_zone_given(self):
        paris = timezone(timedelta(hours=1))
        self.assertEqual(app.rfc3339(datetime(2026, 12, 5, 10, 0, tzinfo=paris)), "2026-12-05T09:00:00Z")

    def test_a_missing_parameter_is_invalid_input(self):
        for name in ["alertname", "duration", "comment"]:
            with self.subTest(name=name), self.assertRaises(InvalidInput):
                app.silence_request(incident(**{name: None}), NOW)


class AnswersTest(unittest.TestCase):
    def test_the_created_silence_id(self):
        self.assertEqual(app.created_id(json.dumps({"silenceID": ID})), ID)

    def test_an_answer_without_a_usable_id_fails(self):
        for text in ["not json", "[]", "{}", '{"silenceID": 7}', '{"silenceID": "../x"}']:
            with self.subTest(text=text), self.assertRaises(Failed):
                app.created_id(text)

    def test_an_active_silence_with_the_matchers_asked_for_is_healthy(self):
        wanted = app.matchers(incident(instance="web-01:9100"))
        # Alertmanager may list matchers in another order, and older ones omit isEqual.
        text = silence("active", {"name": "instance", "value": "web-01:9100", "isRegex": False},
                       matcher("alertname", "HighLatency"))
        verdict = app.judge(ID, text, wanted)
        self.assertEqual(
            (verdict.healthy, verdict.detail),
            (True, f'silence {ID} is active for alertname="HighLatency", instance="web-01:9100"'),
        )

    def test_a_silence_that_is_not_active_or_matches_otherwise_is_not_healthy(self):
        wanted = app.matchers(incident())
        cases = [
            (silence("expired", matcher("alertname", "HighLatency")), f"silence {ID} is expired, not active"),
            (silence("pending", matcher("alertname", "HighLatency")), f"silence {ID} is pending, not active"),
            (silence("active", matcher("alertname", "HighLatency", isRegex=True)),
             f'silence {ID} matches alertname="HighLatency", not alertname="HighLatency"'),
            (silence("active", matcher("alertname", "HighLatency", isEqual=False)),
             f'silence {ID} matches alertname="HighLatency", not alertname="HighLatency"'),
            (silence("active", matcher("alertname", "HighLatency"), matcher("instance", "web-02")),
             f'silence {ID} matches alertname="HighLatency", instance="web-02", not alertname="HighLatency"'),
            (silence("active", matcher("alertname", "Other")),
             f'silence {ID} matches alertname="Other", not alertname="HighLatency"'),
        ]
        for text, detail in cases:
            with self.subTest(detail=detail):
                verdict = app.judge(ID, text, wanted)
                self.assertEqual((verdict.healthy, verdict.detail), (False, detail))

    def test_without_a_silence_id_rollback_undoes_nothing_or_says_what_to_look_for(self):
        self.assertEqual(app.without_id(None, None), "nothing to undo: apply changed nothing")
        requested = json.dumps(app.silence_request(incident(), NOW))
        self.assertEqual(
            app.without_id(requested, "400"),
            "nothing to undo: Alertmanager refused the silence (400) and made none",
        )
        with self.assertRaises(Failed) as raised:
            app.without_id(requested, None)
        self.assertEqual(
            raised.exception.message,
            "medic has no ID for the silence it asked for (no answer, or an answer without one), "
            "so cannot lift it if Alertmanager made it: look for a silence by `medic` "
            'for alertname="HighLatency" ending at 2026-12-05T11:30:15Z',
        )

    def test_after_a_refused_delete_a_silence_that_is_gone_or_expired_is_already_undone(self):
        cases = [
            (404, "", f"nothing to undo: Alertmanager no longer knows silence {ID}"),
            (200, silence("expired", matcher("alertname", "HighLatency")), f"nothing to undo: silence {ID} had already expired"),
            (200, silence("active", matcher("alertname", "HighLatency")), None),
            (200, silence("pending", matcher("alertname", "HighLatency")), None),
            (503, "unavailable", None),
        ]
        for status, text, expected in cases:
            with self.subTest(status=status, text=text):
                self.assertEqual(app.already_undone(ID, status, text), expected)

    def test_a_silence_without_state_or_matchers_fails(self):
        for text in ["<html>", '{"status": {}}', '{"status": {"state": "active"}}', '"active"']:
            with self.subTest(text=text), self.assertRaises(Failed):
                app.silence_state(text)


class PlanTest(unittest.TestCase):
    def test_plan_names_the_calls_and_the_bounded_silence(self):
        steps = app.Remediation().plan(incident(instance="web-01:9100"))
        self.assertEqual(
            [(step.capability, step.target) for step in steps],
            [
                ("http", "POST http://127.0.0.1:9093/api/v2/silences"),
                ("http", "GET http://127.0.0.1:9093/api/v2/silence/{silenceID}"),
                ("none", ""),
            ],
        )
        self.assertEqual(steps[0].detail, 'silence alertname="HighLatency", instance="web-01:9100" for 2h, by medic')

    def test_plan_refuses_an_unbounded_duration(self):
        with self.assertRaises(InvalidInput):
            app.Remediation().plan(incident(duration="48h"))


class SandboxTest(unittest.TestCase):
    def test_host_calls_need_the_sandbox(self):
        with self.assertRaises(NotInSandbox):
            app.Remediation().apply(incident())


if __name__ == "__main__":
    unittest.main()
