"""Run a program through the host's ``exec`` capability.

The host runs it directly (never through a shell) with a cleared environment holding
only the manifest's env names, no stdin and a timeout. The program must be an absolute
path the manifest lists, and each argument must match the manifest's pattern at its
position::

    from medic_guest import exec, Denied, Failed

    def active(unit: str) -> bool:
        try:
            return exec.run("/usr/bin/systemctl", ["is-active", unit]).ok
        except Denied:
            raise                      # a refusal stays a refusal: the run is `denied`
        except Failed as error:
            raise Failed(f"cannot ask systemd: {error}")
"""

from dataclasses import dataclass

from . import _host


@dataclass
class Output:
    """What a program printed and how it ended."""

    status: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool

    @property
    def ok(self) -> bool:
        """True when it exited with status 0."""
        return self.status == 0

    @property
    def stdout_text(self) -> str:
        """Standard output as text, invalid UTF-8 replaced."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        """Standard error as text, invalid UTF-8 replaced."""
        return self.stderr.decode("utf-8", "replace")


def run(program: str, args: list[str]) -> Output:
    """Run ``program`` with ``args`` and wait for it."""
    output = _host.call("exec.run", lambda: _host.exec.run(program, list(args)))
    return Output(
        status=output.status,
        stdout=bytes(output.stdout),
        stderr=bytes(output.stderr),
        stdout_truncated=output.stdout_truncated,
        stderr_truncated=output.stderr_truncated,
    )
