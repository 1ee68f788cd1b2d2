"""pip: closed, unresolvable and misbehaving indexes, missing versions,
conflicting requirements, a read-only target."""
import base64, hashlib, os, zipfile
from lib import case, pymod

PIP = lambda: f"pip {pymod('pip')}; CPython 3.11.7"
PIPX = "python3 -m pip --no-cache-dir --disable-pip-version-check"


def wheel(outdir, name, version, requires=(), requires_python=None):
    """Write a minimal pure-Python wheel (an input for the cases, not a log)."""
    os.makedirs(outdir, exist_ok=True)
    di = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    for r in requires:
        meta += f"Requires-Dist: {r}\n"
    files = {f"{name}/__init__.py": f"__version__ = '{version}'\n", f"{di}/METADATA": meta,
             f"{di}/WHEEL": "Wheel-Version: 1.0\nGenerator: medic-corpus\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    rec = ""
    for p, t in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode()
        rec += f"{p},sha256={h},{len(t.encode())}\n"
    files[f"{di}/RECORD"] = rec + f"{di}/RECORD,,\n"
    path = os.path.join(outdir, f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as z:
        for p, t in files.items():
            z.writestr(p, t)
    return path


def simple_index(ctx, root, wheels):
    """A PEP 503 index laid out as static files: root/simple/<name>/index.html."""
    by = {}
    for w in wheels:
        by.setdefault(os.path.basename(w).split("-")[0], []).append(w)
    for name, ws in by.items():
        d = os.path.join(root, "simple", name)
        os.makedirs(d, exist_ok=True)
        links = ""
        for w in ws:
            os.rename(w, os.path.join(d, os.path.basename(w)))
            links += f'<a href="{os.path.basename(w)}">{os.path.basename(w)}</a>\n'
        ctx.write(os.path.join(d, "index.html"), f"<html><body>\n{links}</body></html>\n")


@case("network-pip-refused-01", "network", "pip",
      "pip install from an index URL on a closed loopback port, with two retries.",
      PIP, r"Connection refused")
def _(ctx):
    ctx.closed(18300)
    return ctx.run(f"{PIPX} install --retries 2 --timeout 5 --index-url http://127.0.0.1:18300/simple corpus-toolbelt==1.4.0")


@case("network-pip-resolve-01", "network", "pip",
      "pip install with an index host name that does not resolve, with one retry.",
      PIP, r"Name or service not known|Temporary failure in name resolution|NameResolutionError")
def _(ctx):
    return ctx.run(f"{PIPX} install --retries 1 --timeout 5 --index-url https://pypi.medic-corpus.invalid/simple corpus-sdk")


@case("package-pip-nomatch-01", "package", "pip",
      "pip install corpuslib==2.0 from a loopback index that only has corpuslib 1.0 and 1.1.",
      PIP, r"No matching distribution")
def _(ctx):
    r = ctx.dir("pip-index")
    simple_index(ctx, r, [wheel(r, "corpuslib", "1.0"), wheel(r, "corpuslib", "1.1")])
    ctx.stub(18301, "--dir", r)
    return ctx.run(f"{PIPX} install --index-url http://127.0.0.1:18301/simple corpuslib==2.0")


@case("package-pip-conflict-01", "package", "pip",
      "pip install --no-index from a wheel folder of two requirements that conflict (alpha 1.0 needs beta>=2, beta==1.0 pinned).",
      PIP, r"ResolutionImpossible|conflict")
def _(ctx):
    d = ctx.dir("pip-wheels")
    wheel(d, "alpha", "1.0", requires=["beta>=2.0"])
    wheel(d, "beta", "1.0")
    wheel(d, "beta", "2.1")
    return ctx.run(f"{PIPX} install --no-index --find-links {d} alpha==1.0 beta==1.0")


@case("package-pip-requirespython-01", "package", "pip",
      "pip install of a package whose only release on a loopback index requires Python >= 3.13.",
      PIP, r"Requires-Python|requires a different [Pp]ython")
def _(ctx):
    r = ctx.dir("pip-index")
    simple_index(ctx, r, [wheel(r, "corpusfast", "3.0", requires_python=">=3.13")])
    ctx.stub(18302, "--dir", r)
    return ctx.run(f"{PIPX} install --index-url http://127.0.0.1:18302/simple corpusfast")


@case("resource_exhaustion-pip-429-01", "resource_exhaustion", "pip",
      "pip install of a wheel URL on a loopback artifact server that answers 429 Too Many Requests.",
      PIP, r"429")
def _(ctx):
    ctx.stub(18303, "--status", "429", "--header", "'Retry-After: 60'")
    return ctx.run(f"{PIPX} install --retries 1 http://127.0.0.1:18303/wheels/corpuslib-1.0-py3-none-any.whl")


@case("unknown-pip-500-01", "unknown", "pip",
      "pip install of a wheel URL on a loopback artifact server that answers a bare 500 Internal Server Error.",
      PIP, r"500")
def _(ctx):
    ctx.stub(18304, "--status", "500")
    return ctx.run(f"{PIPX} install --retries 1 http://127.0.0.1:18304/wheels/corpuslib-1.0-py3-none-any.whl")


@case("credential-pip-403-01", "credential", "pip",
      "pip install of a wheel URL on a loopback private artifact server that answers 403 Forbidden.",
      PIP, r"403")
def _(ctx):
    ctx.stub(18305, "--status", "403")
    return ctx.run(f"{PIPX} install --retries 0 http://127.0.0.1:18305/private/corpus_private-2.3-py3-none-any.whl")


@case("storage-pip-readonly-01", "storage", "pip",
      "pip install --target into a directory that is a read-only bind mount.",
      PIP, r"Read-only file system")
def _(ctx):
    d = ctx.dir("pip-wheels")
    wheel(d, "corpuslib", "1.0")
    t = ctx.dir("pip-ro-target")
    ctx.sh(f"mount --bind {t} {t} && mount -o remount,bind,ro {t}")
    ctx.defer(lambda: ctx.sh(f"umount {t}", check=False))
    return ctx.run(f"{PIPX} install --no-index --find-links {d} --target {t} corpuslib")
