"""Native tests of the pure logic: `python3 -m unittest` (no medic, no host)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "vendor"))

from medic_guest import Incident, InvalidInput, NotInSandbox  # noqa: E402

import app  # noqa: E402


class UrlsTest(unittest.TestCase):
    def test_urls_come_from_the_parameters(self):
        incident = Incident("service", "web", "config_reload_failed", params={"base_url": "http://127.0.0.1:9090/"})
        self.assertEqual(
            app.urls(incident),
            ("http://127.0.0.1:9090/-/reload", "http://127.0.0.1:9090/health"),
        )

    def test_a_missing_parameter_is_invalid_input(self):
        with self.assertRaises(InvalidInput):
            app.urls(Incident("service", "web", "config_reload_failed"))

    def test_host_calls_need_the_sandbox(self):
        incident = Incident("service", "web", "config_reload_failed", params={"base_url": "http://127.0.0.1:9090"})
        with self.assertRaises(NotInSandbox):
            app.Remediation().apply(incident)


if __name__ == "__main__":
    unittest.main()
