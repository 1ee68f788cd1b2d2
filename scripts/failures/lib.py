"""Harness for the failure corpus generator (issue 9).

Each case is a function registered with @case(...).  It sets up a real
failure condition, runs a real tool through ctx.run(...) and returns what
ctx.run returned: (exit_code, log).  The log is the tool's stdout and stderr
through one pipe, exactly as printed, capped at 64 KiB.  Nothing is edited.
A case whose log does not match its `expect` regex (the condition did not
show) is dropped, never patched.
"""
import os, re, shutil, signal, socket, subprocess, sys, time, json

ROOT = "/tmp/medic-corpus"
HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.path.join(HERE, "stubs")
PY = "/usr/bin/python3"          # Debian's CPython, used for stubs
LIMIT = 64 * 1024
CI_USER = "medic-ci"             # an unprivileged user for limits root ignores

CASES = []
AT_EXIT = []   # teardown of shared services (a PostgreSQL cluster, ...)


class Case:
    def __init__(self, fn, id, category, tool, how, source, expect, zero_ok):
        self.fn, self.id, self.category, self.tool = fn, id, category, tool
        self.how, self.source, self.expect, self.zero_ok = how, source, expect, zero_ok


def case(id, category, tool, how, source, expect, zero_ok=False):
    def deco(fn):
        CASES.append(Case(fn, id, category, tool, how, source, expect, zero_ok))
        return fn
    return deco


_vers = {}


def deb(pkg):
    """Upstream version of an installed Debian package (epoch and revision stripped)."""
    if pkg not in _vers:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True).stdout.strip()
        v = re.sub(r"^\d+:", "", v)
        v = re.sub(r"-[^-]*$", "", v) if "-" in v else v
        _vers[pkg] = v or "?"
    return _vers[pkg]


def cmdver(cmd, rx=r"(\d+\.\d+(?:\.\d+)?)"):
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    m = re.search(rx, out.stdout + out.stderr)
    return m.group(1) if m else "?"


def ensure_user():
    if subprocess.run(["id", CI_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", CI_USER], check=True)


def port_open(port, host="127.0.0.1"):
    s = socket.socket()
    s.settimeout(0.3)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Ctx:
    def __init__(self, case):
        self.case = case
        self._cleanup = []
        self.env = dict(os.environ)
        # the machine points pip at a wheel folder; the cases set their own index
        self.env.pop("PIP_FIND_LINKS", None)
        self.env["LANG"] = "C.UTF-8"

    # ---- running -------------------------------------------------------
    def run(self, cmd, cwd=None, env=None, user=None, timeout=120, input=None):
        """Run cmd (a bash script string) with stdout+stderr on one pipe."""
        e = dict(self.env)
        if env:
            e.update(env)
        argv = ["/bin/bash", "-c", cmd]
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        p = subprocess.run(argv, cwd=cwd, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL if input is None else None,
                           input=input, timeout=timeout)
        rc = p.returncode if p.returncode >= 0 else 128 - p.returncode
        out = p.stdout[:LIMIT].decode("utf-8", "replace")
        return rc, out

    def sh(self, cmd, cwd=None, env=None, user=None, check=True):
        """Setup command: output not kept in the corpus."""
        e = dict(self.env)
        if env:
            e.update(env)
        argv = ["/bin/bash", "-c", cmd]
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        p = subprocess.run(argv, cwd=cwd, env=e, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError(f"setup failed ({p.returncode}): {cmd}\n{p.stdout}{p.stderr}")
        return p.stdout

    def bg(self, cmd, cwd=None, env=None, user=None, port=None, wait=0.5, log=None):
        """Start a background process (its own process group); killed at cleanup."""
        e = dict(self.env)
        if env:
            e.update(env)
        argv = ["/bin/bash", "-c", "exec " + cmd]
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        out = open(log or os.path.join(ROOT, "bg-%s.log" % self.case.id), "ab")
        p = subprocess.Popen(argv, cwd=cwd, env=e, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self._cleanup.append(lambda: _killpg(p))
        if port:
            for _ in range(100):
                if port_open(port):
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"background {cmd!r} never listened on {port}")
        else:
            time.sleep(wait)
        return p

    def defer(self, fn):
        self._cleanup.append(fn)

    def cleanup(self):
        for fn in reversed(self._cleanup):
            try:
                fn()
            except Exception as ex:  # keep going
                print("cleanup:", ex, file=sys.stderr)
        self._cleanup = []

    # ---- places --------------------------------------------------------
    def dir(self, name, mode=None):
        d = os.path.join(ROOT, name)
        if os.path.ismount(d):
            subprocess.run(["umount", "-l", d])
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        if mode is not None:
            os.chmod(d, mode)
        return d

    def write(self, path, text, mode=None):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def tmpfs(self, name, size="64k", inodes=None, mode="1777"):
        d = self.dir(name)
        opts = f"size={size},mode={mode}" + (f",nr_inodes={inodes}" if inodes else "")
        subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "medic-tmpfs", d], check=True)
        self._cleanup.append(lambda: subprocess.run(["umount", "-l", d]))
        return d

    # ---- helper servers (loopback only) ----------------------------------
    def stub(self, port, *args):
        """stubs/httpstub.py: status answers, silent listener, static files, TLS."""
        return self.bg(f"{PY} {STUBS}/httpstub.py --port {port} " + " ".join(args), port=port)

    def closed(self, port):
        assert not port_open(port), f"port {port} unexpectedly open"
        return port


def _killpg(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def pymod(dist):
    """Version of a distribution installed for the machine's python3."""
    return cmdver(f"python3 -c 'import importlib.metadata as m; print(m.version(\"{dist}\"))'")
