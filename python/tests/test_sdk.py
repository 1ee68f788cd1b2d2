"""The SDK in plain Python: every host call says there is no host, logs go to stderr,
incidents and results behave, and export keeps a remediation testable natively."""

import io
import unittest
from contextlib import redirect_stderr

import medic_guest
from medic_guest import (
    Denied,
    Failed,
    Incident,
    InvalidInput,
    MedicError,
    NotFound,
    NotInSandbox,
    Step,
    Verdict,
    checkpoint,
    env,
    exec,
    export,
    fs,
    http,
    log,
)
from medic_guest import _host


class NoHostTest(unittest.TestCase):
    def test_every_host_call_raises_not_in_sandbox_naming_the_call(self):
        calls = [
            ("exec.run", lambda: exec.run("/usr/bin/true", [])),
            ("http.send", lambda: http.get("http://127.0.0.1/")),
            ("http.send", lambda: http.post("http://127.0.0.1/", b"x")),
            ("http.connect", lambda: http.connect("127.0.0.1", 80)),
            ("fs.read", lambda: fs.read("/etc/hostname")),
            ("fs.write", lambda: fs.write("/tmp/x", "x")),
            ("fs.list_dir", lambda: fs.list_dir("/tmp")),
            ("fs.metadata", lambda: fs.metadata("/tmp")),
            ("fs.create_dir", lambda: fs.create_dir("/tmp/x")),
            ("fs.rename", lambda: fs.rename("/tmp/a", "/tmp/b")),
            ("fs.remove_file", lambda: fs.remove_file("/tmp/x")),
            ("env.get", lambda: env.get("HOME")),
            ("checkpoint.save", lambda: checkpoint.save_text("k", "v")),
            ("checkpoint.load", lambda: checkpoint.load("k")),
        ]
        for name, call in calls:
            with self.assertRaises(NotInSandbox) as raised:
                call()
            self.assertEqual(raised.exception.call, name)
            self.assertIn("only inside medic's sandbox", str(raised.exception))

    def test_logs_go_to_stderr(self):
        captured = io.StringIO()
        with redirect_stderr(captured):
            log.info("hello")
            log.progress(150, "done")
        self.assertEqual(captured.getvalue(), "info: hello\nprogress 100%: done\n")


class ErrorsTest(unittest.TestCase):
    def test_denied_is_not_failed(self):
        for kind in (Denied, NotFound, Failed, InvalidInput, NotInSandbox):
            self.assertTrue(issubclass(kind, MedicError))
        self.assertFalse(issubclass(Denied, Failed))

    def test_host_errors_map_to_their_exceptions(self):
        class HostError_Denied:  # the shape componentize-py generates
            def __init__(self, value):
                self.value = value

        class HostError_NotFound(HostError_Denied):
            pass

        class HostError_Failed(HostError_Denied):
            pass

        class HostError_InvalidInput(HostError_Denied):
            pass

        kinds = {
            HostError_Denied: Denied,
            HostError_NotFound: NotFound,
            HostError_Failed: Failed,
            HostError_InvalidInput: InvalidInput,
        }
        cases = [
            (HostError_Denied("no grant"), Denied),
            (HostError_NotFound("gone"), NotFound),
            (HostError_Failed("broke"), Failed),
            (HostError_InvalidInput("bad"), InvalidInput),
        ]
        for value, kind in cases:
            error = _host.error_of(value, kinds)
            self.assertIs(type(error), kind)
            self.assertEqual(error.message, value.value)
        # A class the table does not know (a newer contract's) is a failure, not a denial.
        self.assertIs(type(_host.error_of(object(), kinds)), Failed)


class IncidentTest(unittest.TestCase):
    def test_params_and_labels(self):
        incident = Incident("service", "web", "service_down", params={"port": "80"}, labels={"team": "web"})
        self.assertEqual(incident.param("port"), "80")
        self.assertEqual(incident.param("missing", "d"), "d")
        self.assertEqual(incident.label("team"), "web")
        with self.assertRaises(InvalidInput) as raised:
            incident.require_param("missing")
        self.assertEqual(raised.exception.message, "incident has no parameter `missing`")

    def test_steps_and_verdicts(self):
        self.assertEqual(Step.exec("/bin/x", "why"), Step("exec", "/bin/x", "why"))
        self.assertEqual(Step.note("n"), Step("none", "", "n"))
        self.assertTrue(Verdict.ok("fine").healthy)
        self.assertFalse(Verdict.not_ok("bad").healthy)


class ExportTest(unittest.TestCase):
    def test_export_keeps_a_class_testable_natively(self):
        class Fix:
            def plan(self, incident):
                return [Step.note("n")]

            def apply(self, incident):
                return "done"

            def verify(self, incident):
                return Verdict.ok("ok")

            def rollback(self, incident):
                return "undone"

        self.assertIs(export(Fix), Fix)

    def test_export_refuses_a_class_missing_an_export(self):
        class Half:
            def plan(self, incident):
                return []

        with self.assertRaises(TypeError) as raised:
            export(Half)
        self.assertIn("apply, verify, rollback", str(raised.exception))

    def test_the_package_lists_what_it_exports(self):
        for name in medic_guest.__all__:
            self.assertTrue(hasattr(medic_guest, name), name)


if __name__ == "__main__":
    unittest.main()
