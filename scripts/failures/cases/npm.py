"""npm: closed and unresolvable registries, a loopback registry (static
packuments) without the wanted version, peer conflicts, 429, permissions,
lockfile drift, scripts and package.json errors."""
import json, os
from lib import case, cmdver

NPM = lambda: f"npm {cmdver('npm --version')}; Node.js {cmdver('node --version')}"
NPMX = "npm --no-audit --no-fund --fetch-retries=0 --cache /tmp/medic-corpus/npm-cache"


def project(ctx, name, deps=None, scripts=None, extra=None):
    d = ctx.dir(name)
    pj = {"name": name, "version": "1.0.0", "private": True}
    if deps:
        pj["dependencies"] = deps
    if scripts:
        pj["scripts"] = scripts
    if extra:
        pj.update(extra)
    ctx.write(f"{d}/package.json", json.dumps(pj, indent=2) + "\n")
    return d


def registry(ctx, port, packages):
    """packages: {name: {version: {"dependencies":..., "peerDependencies":...}}}"""
    r = ctx.dir(f"npm-registry-{port}")
    for name, versions in packages.items():
        doc = {"name": name, "dist-tags": {"latest": sorted(versions)[-1]}, "versions": {}}
        for v, meta in versions.items():
            doc["versions"][v] = dict(name=name, version=v, **meta,
                                      dist={"tarball": f"http://127.0.0.1:{port}/{name}/-/{name}-{v}.tgz",
                                            "shasum": "0" * 40})
        ctx.write(f"{r}/{name}/index.json", json.dumps(doc))
    ctx.stub(port, "--dir", r)
    return f"http://127.0.0.1:{port}/"


@case("network-npm-refused-01", "network", "npm",
      "npm install with the registry set to a closed loopback port.",
      NPM, r"ECONNREFUSED")
def _(ctx):
    ctx.closed(18400)
    d = project(ctx, "npm-refused", {"corpus-utils": "^1.0.0"})
    return ctx.run(f"{NPMX} install --registry http://127.0.0.1:18400/", cwd=d)


@case("network-npm-enotfound-01", "network", "npm",
      "npm install with a registry host name that does not resolve.",
      NPM, r"ENOTFOUND|EAI_AGAIN")
def _(ctx):
    d = project(ctx, "npm-enotfound", {"corpus-utils": "^1.0.0"})
    return ctx.run(f"{NPMX} install --registry https://npm.medic-corpus.invalid/", cwd=d)


@case("package-npm-etarget-01", "package", "npm",
      "npm install corpus-utils@^2.0.0 from a loopback registry that has only 1.0.0 and 1.1.0.",
      NPM, r"ETARGET|No matching version")
def _(ctx):
    reg = registry(ctx, 18401, {"corpus-utils": {"1.0.0": {}, "1.1.0": {}}})
    d = project(ctx, "npm-etarget", {"corpus-utils": "^2.0.0"})
    return ctx.run(f"{NPMX} install --registry {reg}", cwd=d)


@case("package-npm-e404-01", "package", "npm",
      "npm install of a package name the loopback registry does not have (404).",
      NPM, r"E404|404")
def _(ctx):
    reg = registry(ctx, 18402, {"corpus-utils": {"1.0.0": {}}})
    d = project(ctx, "npm-e404", {"corpus-utilz": "^1.0.0"})
    return ctx.run(f"{NPMX} install --registry {reg}", cwd=d)


@case("package-npm-peer-01", "package", "npm",
      "npm install of corpus-core 1 beside corpus-ui 1, whose peerDependencies want corpus-core 2 (loopback registry).",
      NPM, r"ERESOLVE")
def _(ctx):
    reg = registry(ctx, 18403, {"corpus-core": {"1.0.0": {}, "2.0.0": {}},
                                "corpus-ui": {"1.0.0": {"peerDependencies": {"corpus-core": "^2.0.0"}}}})
    d = project(ctx, "npm-peer", {"corpus-core": "1.0.0", "corpus-ui": "1.0.0"})
    return ctx.run(f"{NPMX} install --registry {reg}", cwd=d)


@case("resource_exhaustion-npm-429-01", "resource_exhaustion", "npm",
      "npm install from a loopback registry that answers 429 Too Many Requests.",
      NPM, r"429")
def _(ctx):
    ctx.stub(18404, "--status", "429", "--header", "'Retry-After: 120'")
    d = project(ctx, "npm-429", {"corpus-utils": "^1.0.0"})
    return ctx.run(f"{NPMX} install --registry http://127.0.0.1:18404/", cwd=d)


@case("credential-npm-eacces-01", "credential", "npm",
      "npm install run as an unprivileged CI user in a project directory owned by root.",
      NPM, r"EACCES")
def _(ctx):
    d = project(ctx, "npm-eacces")
    os.chmod(d, 0o755)
    ctx.sh(f"mkdir -p /home/medic-ci && chown medic-ci: /home/medic-ci")
    return ctx.run("npm --no-audit --no-fund --offline install", cwd=d, user="medic-ci",
                   env={"HOME": "/home/medic-ci"})


@case("state_mismatch-npm-ci-sync-01", "state_mismatch", "npm",
      "npm ci where package.json gained a dependency that package-lock.json does not have.",
      NPM, r"in sync|Missing:")
def _(ctx):
    reg = registry(ctx, 18405, {"corpus-utils": {"1.0.0": {}}, "corpus-extra": {"1.0.0": {}}})
    d = project(ctx, "npm-ci", {"corpus-utils": "1.0.0", "corpus-extra": "1.0.0"})
    lock = {"name": "npm-ci", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "npm-ci", "version": "1.0.0", "dependencies": {"corpus-utils": "1.0.0"}},
                         "node_modules/corpus-utils": {"version": "1.0.0",
                                                       "resolved": f"{reg}corpus-utils/-/corpus-utils-1.0.0.tgz"}}}
    ctx.write(f"{d}/package-lock.json", json.dumps(lock, indent=2))
    return ctx.run(f"{NPMX} ci --registry {reg}", cwd=d)


@case("configuration-npm-missingscript-01", "configuration", "npm",
      "npm run build in a project whose package.json defines only test and start scripts.",
      NPM, r"Missing script")
def _(ctx):
    d = project(ctx, "npm-script", scripts={"test": "node --test", "start": "node server.js"})
    return ctx.run("npm run build", cwd=d)


@case("configuration-npm-jsonparse-01", "configuration", "npm",
      "npm install in a project whose package.json has a trailing comma.",
      NPM, r"EJSONPARSE|JSON")
def _(ctx):
    d = ctx.dir("npm-json")
    ctx.write(f"{d}/package.json", '{\n  "name": "npm-json",\n  "version": "1.0.0",\n  "dependencies": {\n'
              '    "corpus-utils": "^1.0.0",\n  },\n}\n')
    return ctx.run(f"{NPMX} install --offline", cwd=d)
