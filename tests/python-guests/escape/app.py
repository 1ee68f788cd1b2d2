"""Hostile Python guest: the attacks of the Rust guests exec-escape, http-escape,
fs-escape and env-escape, chosen by the incident's `guest` parameter with the same
parameters, plus CPython's own ways out (`ambient`): open(), os.listdir, a socket,
os.environ. A test runs it beside the Rust guests and asserts each attack is refused
exactly as theirs is."""

import os
import socket
import encodings.idna  # noqa: F401  (socket name lookup needs it; imported at build time)

from medic_guest import Failed, Incident, Step, Verdict, env, exec, export, fs, http


def attack(incident: Incident) -> str:
    guest = incident.require_param("guest")
    if guest == "exec":
        args_text = incident.param("args", "")
        args = args_text.split("\n") if args_text else []
        output = exec.run(incident.require_param("program"), args)
        return f"status {output.status} stdout {output.stdout_text.strip()}"
    if guest == "http":
        tcp = incident.param("tcp")
        if tcp:
            host, port = tcp.rsplit(":", 1)
            return f"connected in {http.connect(host, int(port))} s"
        headers = []
        header = incident.param("header")
        if header:
            name, value = header.split(":", 1)
            headers.append((name, value.strip()))
        response = http.send(incident.param("method", "GET"), incident.require_param("url"), headers)
        return f"status {response.status} body {response.text.strip()}"
    if guest == "fs":
        path = incident.require_param("path")
        op = incident.require_param("op")
        if op == "read":
            return "read: " + fs.read(path).decode("utf-8", "replace")
        if op == "write":
            fs.write(path, incident.param("data", "pwned"))
            return "wrote"
        if op == "list":
            return f"{len(fs.list_dir(path))} entries"
        if op == "rename":
            fs.rename(path, incident.require_param("path2"))
            return "renamed"
        if op == "remove":
            fs.remove_file(path)
            return "removed"
        raise Failed(f"unknown op {op}")
    if guest == "env":
        if os.environ:
            raise Failed(f"the WASI environment holds {len(os.environ)} variables")
        name = incident.require_param("name")
        value = env.get(name)
        return f"{name}={'<unset>' if value is None else value}"
    if guest == "ambient":
        return ambient(incident)
    raise Failed(f"unknown guest {guest}")


def ambient(incident: Incident) -> str:
    """CPython's own files, sockets and environment: each must raise, nothing may leak."""
    results = []
    target = incident.require_param("path")
    for name, action in [
        ("open", lambda: open(target).read()),
        ("write", lambda: open(target + ".py-was-here", "w").write("x")),
        ("listdir", lambda: os.listdir(os.path.dirname(target))),
        ("stat", lambda: os.stat(target)),
    ]:
        try:
            leaked = action()
            results.append(f"{name}: LEAKED {str(leaked)[:40]!r}")
        except OSError as error:
            results.append(f"{name}: {type(error).__name__}")
    host, port = incident.require_param("tcp").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        results.append("socket: LEAKED connected")
    except OSError as error:
        results.append(f"socket: {type(error).__name__}")
    results.append(f"environ: {len(os.environ)}")
    return "; ".join(results)


class Escape:
    def plan(self, incident: Incident) -> list[Step]:
        return [Step.note("try to get out")]

    def apply(self, incident: Incident) -> str:
        return attack(incident)

    def verify(self, incident: Incident) -> Verdict:
        return Verdict.ok("ran")

    def rollback(self, incident: Incident) -> str:
        return "nothing to undo"


Remediation = export(Escape)
