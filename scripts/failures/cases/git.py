"""git: non-fast-forward push, merge conflict, stale index.lock, dubious
ownership, unknown revision, closed and unresolvable remotes, missing
identity."""
from lib import case, deb

GIT = lambda: f"git {deb('git')} (/usr/bin/git)"
G = "/usr/bin/git"
ID = f"{G} -c user.name=CI -c user.email=ci@corpus.localhost"


def repo(ctx, name):
    d = ctx.dir(name)
    ctx.sh(f"{G} init -q -b main {d}/work && cd {d}/work && echo v1 > VERSION && {G} add VERSION && {ID} commit -qm 'v1'")
    return d


@case("state_mismatch-git-nonff-01", "state_mismatch", "git",
      "git push to a local bare repository whose main branch has a commit the pusher does not have.",
      GIT, r"non-fast-forward|fetch first|rejected")
def _(ctx):
    d = repo(ctx, "git-nonff")
    ctx.sh(f"{G} clone -q --bare {d}/work {d}/origin.git && {G} clone -q {d}/origin.git {d}/other && cd {d}/other && "
           f"echo v2 > VERSION && {ID} commit -qam v2 && {G} push -q origin main && cd {d}/work && "
           f"{G} remote add origin {d}/origin.git && echo v1.1 > VERSION && {ID} commit -qam v1.1")
    return ctx.run(f"{G} push origin main", cwd=f"{d}/work")


@case("state_mismatch-git-mergeconflict-01", "state_mismatch", "git",
      "git merge of a feature branch that changed the same line of VERSION as main.",
      GIT, r"CONFLICT")
def _(ctx):
    d = repo(ctx, "git-merge")
    w = f"{d}/work"
    ctx.sh(f"{G} checkout -qb feature && echo v2-feature > VERSION && {ID} commit -qam feature && {G} checkout -q main && "
           f"echo v2-main > VERSION && {ID} commit -qam main", cwd=w)
    return ctx.run(f"{ID} merge feature", cwd=w)


@case("state_mismatch-git-indexlock-01", "state_mismatch", "git",
      "git commit -a in a repository where a crashed git left .git/index.lock behind.",
      GIT, r"index.lock")
def _(ctx):
    d = repo(ctx, "git-lock")
    w = f"{d}/work"
    ctx.sh("echo v2 > VERSION && touch .git/index.lock", cwd=w)
    return ctx.run(f"{ID} commit -am 'bump version'", cwd=w)


@case("credential-git-dubious-01", "credential", "git",
      "git status run by root in a checkout owned by another user (safe.directory not set).",
      GIT, r"dubious ownership")
def _(ctx):
    d = repo(ctx, "git-dubious")
    ctx.sh(f"chown -R medic-ci: {d}/work")
    return ctx.run(f"{G} status", cwd=f"{d}/work", env={"HOME": "/tmp/medic-corpus/git-dubious"})


@case("state_mismatch-git-unknownrev-01", "state_mismatch", "git",
      "git checkout of a release tag that was never created in the repository.",
      GIT, r"did not match|unknown revision")
def _(ctx):
    d = repo(ctx, "git-rev")
    return ctx.run(f"{G} checkout v2.4.0", cwd=f"{d}/work")


@case("state_mismatch-git-logrange-01", "state_mismatch", "git",
      "git log of a range whose start (a release tag) does not exist in the repository.",
      GIT, r"unknown revision")
def _(ctx):
    d = repo(ctx, "git-rev")
    return ctx.run(f"{G} log --oneline v1.9.0..HEAD", cwd=f"{d}/work")


@case("network-git-refused-01", "network", "git",
      "git clone of an http:// repository URL on a closed loopback port.",
      GIT, r"Connection refused|Failed to connect")
def _(ctx):
    ctx.closed(18800)
    d = ctx.dir("git-clone")
    return ctx.run(f"{G} clone http://127.0.0.1:18800/corpus/app.git", cwd=d)


@case("network-git-resolve-01", "network", "git",
      "git fetch from a remote whose host name does not resolve.",
      GIT, r"Could not resolve host")
def _(ctx):
    d = repo(ctx, "git-resolve")
    w = f"{d}/work"
    ctx.sh(f"{G} remote add origin https://git.medic-corpus.invalid/corpus/app.git", cwd=w)
    return ctx.run(f"{G} fetch origin", cwd=w)


@case("configuration-git-identity-01", "configuration", "git",
      "git commit in a CI job where neither user.name nor user.email is configured.",
      GIT, r"Please tell me who you are")
def _(ctx):
    d = ctx.dir("git-ident")
    ctx.sh(f"{G} init -q -b main {d}/work && echo x > {d}/work/f && {G} -C {d}/work add f")
    return ctx.run(f"{G} commit -m 'release notes'", cwd=f"{d}/work",
                   env={"HOME": d, "GIT_CONFIG_NOSYSTEM": "1", "EMAIL": ""})
