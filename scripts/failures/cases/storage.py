"""Storage: /dev/full, full and inode-starved tmpfs, read-only remounts,
a full loop-mounted ext4."""
from lib import case, deb

CORE = lambda: f"GNU coreutils {deb('coreutils')}"


@case("storage-cp-devfull-01", "storage", "cp",
      "cp of a 1 MiB build artefact to /dev/full.",
      CORE, r"No space left on device")
def _(ctx):
    d = ctx.dir("cp-full")
    ctx.sh(f"head -c 1048576 /dev/urandom > {d}/app.bin")
    return ctx.run(f"cp {d}/app.bin /dev/full")


@case("storage-bash-devfull-01", "storage", "bash",
      "a bash step writing a generated config with echo into /dev/full.",
      lambda: f"GNU bash {deb('bash')}", r"No space left on device")
def _(ctx):
    return ctx.run("echo 'listen 127.0.0.1:8080' > /dev/full; echo \"write status $?\"; exit 1")


@case("storage-tar-full-01", "storage", "tar",
      "tar -xzf of a 2 MiB release archive onto a 512 KiB tmpfs.",
      lambda: f"GNU tar {deb('tar')}", r"No space left on device|Cannot write")
def _(ctx):
    src = ctx.dir("tar-src")
    ctx.sh(f"cd {src} && mkdir release && for i in 1 2 3 4; do head -c 524288 /dev/urandom > release/lib$i.so; done && tar czf release.tgz release")
    d = ctx.tmpfs("tar-full", size="512k")
    return ctx.run(f"tar -xzf {src}/release.tgz -C {d}")


@case("storage-rsync-full-01", "storage", "rsync",
      "rsync -a of a 2 MiB directory to a 512 KiB tmpfs.",
      lambda: f"rsync {deb('rsync')}", r"No space left on device")
def _(ctx):
    src = ctx.dir("rsync-src")
    ctx.sh(f"cd {src} && for i in 1 2 3 4; do head -c 524288 /dev/urandom > blob$i; done")
    d = ctx.tmpfs("rsync-full", size="512k")
    return ctx.run(f"rsync -a {src}/ {d}/")


@case("storage-gzip-full-01", "storage", "gzip",
      "gzip -c of a 4 MiB log into a file on a 256 KiB tmpfs.",
      lambda: f"gzip {deb('gzip')}", r"No space left on device")
def _(ctx):
    src = ctx.dir("gzip-src")
    ctx.sh(f"head -c 4194304 /dev/urandom | base64 > {src}/app.log")
    d = ctx.tmpfs("gzip-full", size="256k")
    return ctx.run(f"gzip -c {src}/app.log > {d}/app.log.gz")


@case("storage-sort-tmpfull-01", "storage", "sort",
      "sort -S 1M -T with its temporary directory on a 256 KiB tmpfs, of a 6 MB file.",
      lambda: f"{CORE()} (sort)", r"No space left on device")
def _(ctx):
    src = ctx.dir("sort-src")
    ctx.sh(f"seq 1 600000 | sed 's/$/ record/' | shuf > {src}/rows.txt")
    d = ctx.tmpfs("sort-tmp", size="256k")
    return ctx.run(f"sort -S 1M -T {d} {src}/rows.txt -o {src}/sorted.txt")


@case("storage-mkdir-inodes-01", "storage", "mkdir",
      "df -i, then a bash step making one cache directory per key on a tmpfs limited to 30 inodes.",
      CORE, r"No space left on device")
def _(ctx):
    d = ctx.tmpfs("inodes", size="8m", inodes=30)
    return ctx.run(f"df -i {d}; for k in $(seq 1 50); do mkdir -p {d}/cache/key-$k || exit 1; done")


@case("storage-git-inodes-01", "storage", "git",
      "git clone of a local repository with 60 files into a tmpfs limited to 40 inodes.",
      lambda: f"git {deb('git')}", r"No space left on device")
def _(ctx):
    src = ctx.dir("git-src")
    ctx.sh(f"cd {src} && /usr/bin/git init -q -b main && for i in $(seq 1 60); do echo $i > f$i; done && /usr/bin/git add . && "
           "/usr/bin/git -c user.name=CI -c user.email=ci@corpus.localhost commit -qm init")
    d = ctx.tmpfs("git-inodes", size="8m", inodes=40)
    return ctx.run(f"/usr/bin/git clone {src} {d}/checkout")


@case("storage-sed-readonly-01", "storage", "sed",
      "sed -i on a config file in a directory that has been remounted read-only.",
      lambda: f"GNU sed {deb('sed')}", r"Read-only file system")
def _(ctx):
    d = ctx.tmpfs("ro-conf", size="1m")
    ctx.write(f"{d}/app.conf", "port=8080\nworkers=2\n")
    ctx.sh(f"mount -o remount,ro {d}")
    return ctx.run(f"sed -i 's/workers=2/workers=4/' {d}/app.conf")


@case("storage-python-readonly-01", "storage", "python3",
      "a Python service opening its log file for append on a filesystem remounted read-only.",
      lambda: "CPython 3.11.7", r"Read-only file system")
def _(ctx):
    d = ctx.tmpfs("ro-logs", size="1m")
    ctx.sh(f"mount -o remount,ro {d}")
    return ctx.run(f"python3 -c '\nimport logging\nlogging.basicConfig(filename=\"{d}/service.log\", level=logging.INFO)\n"
                   "logging.info(\"started\")'")


@case("storage-fallocate-ext4-01", "storage", "fallocate",
      "fallocate of a 32 MiB swap file on an 8 MiB ext4 filesystem on a loop device.",
      lambda: f"util-linux {deb('util-linux')} (fallocate)", r"No space left on device")
def _(ctx):
    img = "/tmp/medic-corpus/ext4.img"
    ctx.sh(f"rm -f {img} && truncate -s 8M {img} && mkfs.ext4 -q -F {img}")
    d = ctx.dir("ext4-mnt")
    ctx.sh(f"mount -o loop {img} {d}")
    ctx.defer(lambda: ctx.sh(f"umount {d}", check=False))
    return ctx.run(f"fallocate -l 32M {d}/swapfile")
