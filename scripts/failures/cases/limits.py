"""Processes under limits: ulimit -v/-n/-u/-f/-t, timeout(1), a cgroup v1
memory limit.  The -u cases run as the unprivileged user medic-ci, since
root ignores RLIMIT_NPROC."""
import os, subprocess
from lib import case, deb, cmdver, CI_USER

BASH = lambda: f"GNU bash {deb('bash')}"
CPY = "CPython 3.11.7"


@case("resource_exhaustion-python-memoryerror-01", "resource_exhaustion", "python3",
      "a Python job building a 2 GB list in a bash step under ulimit -v 500000 (KiB).",
      lambda: CPY, r"MemoryError")
def _(ctx):
    return ctx.run("ulimit -v 500000; python3 -c 'rows = [0] * (256 * 1024 * 1024); print(len(rows))'")


@case("resource_exhaustion-perl-oom-01", "resource_exhaustion", "perl",
      "a Perl report script building a 1 GB string in a bash step under ulimit -v 200000 (KiB).",
      lambda: f"perl {deb('perl')}", r"Out of memory")
def _(ctx):
    return ctx.run("ulimit -v 200000; perl -e 'my $s = \"x\" x (1024 * 1024 * 1024); print length($s), \"\\n\"'")


@case("resource_exhaustion-gcc-oom-01", "resource_exhaustion", "gcc",
      "gcc -O2 compiling a generated 30000-case switch in a bash step under ulimit -v 150000 (KiB).",
      lambda: f"gcc {deb('gcc-12')}", r"out of memory|Cannot allocate memory|virtual memory exhausted")
def _(ctx):
    d = ctx.dir("gcc-oom")
    body = "".join(f"    case {i}: return x * {i} + {i % 7};\n" for i in range(30000))
    ctx.write(f"{d}/table.c", "int f(int k, int x) {\n  switch (k) {\n" + body + "  }\n  return 0;\n}\n")
    return ctx.run("ulimit -v 150000; gcc -O2 -c table.c -o table.o", cwd=d)


@case("resource_exhaustion-python-emfile-01", "resource_exhaustion", "python3",
      "a Python indexer opening one file per shard and keeping them open, under ulimit -n 64.",
      lambda: CPY, r"Too many open files")
def _(ctx):
    d = ctx.dir("py-emfile")
    return ctx.run("ulimit -n 64; python3 -c '\nhandles = []\nfor i in range(200):\n"
                   "    handles.append(open(f\"shard-{i}.idx\", \"w\"))\nprint(len(handles))'", cwd=d)


@case("resource_exhaustion-bash-emfile-01", "resource_exhaustion", "bash",
      "a bash step opening a file descriptor per input file under ulimit -n 20.",
      BASH, r"Too many open files")
def _(ctx):
    d = ctx.dir("bash-emfile")
    ctx.sh(f"cd {d} && for i in $(seq 1 40); do echo $i > part-$i.txt; done")
    return ctx.run("ulimit -n 20; for f in part-*.txt; do exec {fd}<\"$f\" || exit 1; done; echo opened all", cwd=d)


@case("resource_exhaustion-ruby-emfile-01", "resource_exhaustion", "ruby",
      "a Ruby script opening sockets to a loopback listener without closing them, under ulimit -n 32.",
      lambda: f"ruby {deb('ruby3.1')}", r"EMFILE|Too many open files")
def _(ctx):
    ctx.stub(18960, "--silent")
    return ctx.run("ulimit -n 32; ruby -rsocket -e 'conns = []; 100.times { conns << TCPSocket.new(\"127.0.0.1\", 18960) }; puts conns.size'")


@case("resource_exhaustion-python-nproc-01", "resource_exhaustion", "python3",
      "a Python test harness starting 12 worker subprocesses as an unprivileged user under ulimit -u 6.",
      lambda: CPY, r"Resource temporarily unavailable|BlockingIOError")
def _(ctx):
    return ctx.run("ulimit -u 6; /usr/bin/python3 -c '\nimport subprocess\nprocs = [subprocess.Popen([\"sleep\", \"5\"]) for _ in range(12)]\n"
                   "print(len(procs))'", user=CI_USER, env={"HOME": "/home/medic-ci"})


@case("resource_exhaustion-make-nproc-01", "resource_exhaustion", "make",
      "make -j16 of 16 independent targets as an unprivileged user under ulimit -u 8.",
      lambda: f"GNU Make {deb('make')}", r"fork|Resource temporarily unavailable")
def _(ctx):
    d = ctx.dir("make-nproc")
    os.chmod(d, 0o777)
    rules = "".join(f"t{i}:\n\tsleep 2\n" for i in range(16))
    ctx.write(f"{d}/Makefile", "all: " + " ".join(f"t{i}" for i in range(16)) + "\n" + rules, mode=0o644)
    return ctx.run("ulimit -u 8; make -j16", cwd=d, user=CI_USER)


@case("resource_exhaustion-dd-filesize-01", "resource_exhaustion", "dd",
      "dd writing a 64 MiB image in a bash step under ulimit -f 10240 (file size limit, 10 MiB).",
      BASH, r"File size limit exceeded")
def _(ctx):
    d = ctx.dir("dd-fsize")
    return ctx.run(f"ulimit -f 10240; dd if=/dev/zero of={d}/disk.img bs=1M count=64; rc=$?; exit $rc", cwd=d)


@case("resource_exhaustion-python-filesize-01", "resource_exhaustion", "python3",
      "a Python exporter writing a 20 MB CSV under ulimit -f 2048, catching SIGXFSZ as an error.",
      lambda: CPY, r"File too large|EFBIG|Errno 27")
def _(ctx):
    d = ctx.dir("py-fsize")
    return ctx.run("ulimit -f 2048; python3 -c '\nimport signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                   "with open(\"export.csv\", \"w\") as f:\n    for i in range(1000000):\n        f.write(f\"{i},row-{i},ok\\n\")'", cwd=d)


@case("resource_exhaustion-perl-cpu-01", "resource_exhaustion", "perl",
      "a Perl checksum loop in a bash step under a soft ulimit -S -t 2 (CPU seconds).",
      BASH, r"CPU time limit exceeded")
def _(ctx):
    return ctx.run("ulimit -S -t 2; perl -e 'my $x = 0; while (1) { $x = ($x * 31 + 7) % 1000003 }'; rc=$?; echo \"checksum step exited $rc\"; exit $rc")


@case("timeout-timeout-verbose-01", "timeout", "timeout",
      "timeout --verbose 3 around a migration command that sleeps for 30 s.",
      lambda: f"GNU coreutils {deb('coreutils')} (timeout)", r"sending signal")
def _(ctx):
    return ctx.run("echo 'running migrations...'; timeout --verbose 3 sleep 30")


@case("resource_exhaustion-python-cgroup-oom-01", "resource_exhaustion", "python3",
      "a Python job growing a 400 MB buffer in a bash step inside a cgroup v1 memory cgroup limited to 64 MiB.",
      lambda: f"{CPY}; {BASH()}", r"Killed")
def _(ctx):
    cg = "/sys/fs/cgroup/memory/medic-corpus"
    os.makedirs(cg, exist_ok=True)
    with open(f"{cg}/memory.limit_in_bytes", "w") as f:
        f.write(str(64 * 1024 * 1024))
    ctx.defer(lambda: subprocess.run(["rmdir", cg]))
    return ctx.run(f"echo $$ > {cg}/cgroup.procs; python3 -c '\nchunks = []\nfor i in range(400):\n"
                   "    chunks.append(bytearray(1024 * 1024))\nprint(\"built\", len(chunks))'\nrc=$?; echo \"exit status $rc\"; exit $rc")


@case("resource_exhaustion-java-heap-01", "resource_exhaustion", "java",
      "java -Xmx32m running a single-file program that caches 1 MB records in a list.",
      lambda: f"OpenJDK {cmdver('java -version')}", r"OutOfMemoryError")
def _(ctx):
    d = ctx.dir("java-heap")
    ctx.write(f"{d}/Cache.java", "import java.util.ArrayList;\nimport java.util.List;\n\npublic class Cache {\n"
              "    public static void main(String[] args) {\n        List<byte[]> cache = new ArrayList<>();\n"
              "        for (int i = 0; i < 1000; i++) cache.add(new byte[1 << 20]);\n        System.out.println(cache.size());\n    }\n}\n")
    return ctx.run("java -Xmx32m Cache.java", cwd=d)
