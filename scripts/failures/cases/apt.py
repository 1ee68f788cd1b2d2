"""apt and dpkg: unknown packages, broken sources, locks, unsigned and
unreachable repositories.  Each case uses its own source list and lists
directory so that the machine's own apt state is left alone."""
import os
from lib import case, deb, PY

APT = lambda: f"apt {deb('apt')}"
A = "/tmp/medic-corpus/apt"


def apt_opts(ctx, sources):
    os.makedirs(f"{A}/lists/partial", exist_ok=True)
    os.makedirs(f"{A}/cache/archives/partial", exist_ok=True)
    ctx.write(f"{A}/sources.list", sources)
    return (f"-o Dir::Etc::SourceList={A}/sources.list -o Dir::Etc::SourceParts={A}/none "
            f"-o Dir::State::Lists={A}/lists -o Dir::Cache={A}/cache -o Acquire::Retries=0")


@case("package-apt-unknownpkg-01", "package", "apt-get",
      "apt-get install -y of a package name that no configured repository has.",
      APT, r"Unable to locate package")
def _(ctx):
    return ctx.run("apt-get install -y --no-install-recommends medic-corpus-agent")


@case("package-apt-version-01", "package", "apt-get",
      "apt-get install -y jq=9.9-1, a version of jq that no repository offers.",
      APT, r"Version '9.9-1' for 'jq' was not found")
def _(ctx):
    return ctx.run("apt-get install -y jq=9.9-1")


@case("configuration-apt-malformed-01", "configuration", "apt-get",
      "apt-get update with a one-line source list that lacks its component.",
      APT, r"Malformed")
def _(ctx):
    ctx.dir("apt")
    o = apt_opts(ctx, "deb [arch=amd64] http://127.0.0.1:18201/debian bookworm\n")
    return ctx.run(f"apt-get {o} update")


@case("state_mismatch-dpkg-frontendlock-01", "state_mismatch", "dpkg",
      "dpkg -i of a local .deb while another process holds the dpkg frontend lock.",
      lambda: f"dpkg {deb('dpkg')}", r"lock")
def _(ctx):
    d = ctx.dir("dpkg-lock")
    ctx.sh(f"mkdir -p {d}/pkg/DEBIAN && printf 'Package: medic-corpus-hello\\nVersion: 1.0\\nArchitecture: all\\n"
           f"Maintainer: corpus <corpus@localhost>\\nDescription: corpus\\n' > {d}/pkg/DEBIAN/control && "
           f"dpkg-deb -b {d}/pkg {d}/hello.deb")
    ctx.bg(f"{PY} -c \"import fcntl,time; f=open('/var/lib/dpkg/lock-frontend','w'); "
           "fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(60)\"", wait=1)
    return ctx.run(f"dpkg -i {d}/hello.deb")


def local_repo(ctx, root):
    ctx.sh(f"mkdir -p {root}/pool {root}/dists/corpus/main/binary-amd64 {root}/pkg/DEBIAN && "
           f"printf 'Package: medic-corpus-agent\\nVersion: 1.0\\nArchitecture: all\\n"
           f"Maintainer: corpus <corpus@localhost>\\nDescription: corpus agent\\n' > {root}/pkg/DEBIAN/control && "
           f"dpkg-deb -b {root}/pkg {root}/pool/medic-corpus-agent_1.0_all.deb && cd {root} && "
           f"apt-ftparchive packages pool > dists/corpus/main/binary-amd64/Packages && "
           f"apt-ftparchive -o APT::FTPArchive::Release::Suite=corpus -o APT::FTPArchive::Release::Components=main "
           f"-o APT::FTPArchive::Release::Architectures=amd64 release dists/corpus > dists/corpus/Release")


@case("credential-apt-unsigned-01", "credential", "apt-get",
      "apt-get update from a loopback repository whose Release file carries no signature.",
      APT, r"not signed")
def _(ctx):
    ctx.dir("apt")
    r = ctx.dir("apt-repo")
    local_repo(ctx, r)
    ctx.stub(18202, "--dir", r)
    o = apt_opts(ctx, "deb http://127.0.0.1:18202 corpus main\n")
    return ctx.run(f"apt-get {o} update")


@case("network-apt-refused-locate-01", "network", "apt-get",
      "a bash step running apt-get update against a mirror on a closed loopback port, then apt-get install of a package only that mirror has.",
      APT, r"Connection refused[\s\S]*Unable to locate package")
def _(ctx):
    ctx.dir("apt")
    o = apt_opts(ctx, "deb [trusted=yes] http://127.0.0.1:18203 corpus main\n")
    ctx.closed(18203)
    return ctx.run(f"apt-get {o} update; apt-get {o} install -y medic-corpus-agent")


@case("network-apt-resolve-01", "network", "apt-get",
      "apt-get update --error-on=any with a mirror whose host name does not resolve.",
      APT, r"(?i)resolv")
def _(ctx):
    ctx.dir("apt")
    o = apt_opts(ctx, "deb [trusted=yes] http://mirror.medic-corpus.invalid/debian bookworm main\n")
    return ctx.run(f"apt-get {o} --error-on=any update")


@case("package-apt-404-01", "package", "apt-get",
      "apt-get install from a loopback repository whose index lists a .deb that is missing from its pool.",
      APT, r"404")
def _(ctx):
    ctx.dir("apt")
    r = ctx.dir("apt-repo")
    local_repo(ctx, r)
    ctx.sh(f"rm {r}/pool/medic-corpus-agent_1.0_all.deb")
    ctx.stub(18204, "--dir", r)
    o = apt_opts(ctx, "deb [trusted=yes] http://127.0.0.1:18204 corpus main\n")
    ctx.sh(f"apt-get {o} update")
    return ctx.run(f"apt-get {o} install -y medic-corpus-agent")
