"""Crashes and bugs whose log names no cause (unknown); configuration files
and settings read by programs (YAML, TOML, JSON, env, VM options); doctest;
more qemu wording."""
from lib import case, deb, cmdver, pymod

CPY = lambda: "CPython 3.11.7"
BASH = lambda: f"GNU bash {deb('bash')}"


@case("unknown-c-segfault-01", "unknown", "bash",
      "a bash step running a C program that dereferences a NULL pointer while parsing its input.",
      lambda: f"{BASH()}; gcc {deb('gcc-12')}", r"Segmentation fault")
def _(ctx):
    d = ctx.dir("segv")
    ctx.write(f"{d}/parse.c", "#include <stdio.h>\n#include <string.h>\n\nint main(void) {\n    char *line = NULL;\n"
              "    printf(\"parsing manifest\\n\");\n    fflush(stdout);\n    return (int)strlen(line);\n}\n")
    ctx.sh("gcc -O0 -o parse parse.c", cwd=d)
    return ctx.run("./parse; rc=$?; exit $rc", cwd=d)


@case("unknown-c-assert-01", "unknown", "bash",
      "a bash step running a C program whose internal assert() fails.",
      lambda: f"{BASH()}; glibc assert", r"Assertion|Aborted")
def _(ctx):
    d = ctx.dir("assert")
    ctx.write(f"{d}/ring.c", "#include <assert.h>\n#include <stdio.h>\n\nint main(void) {\n    int head = 7, cap = 4;\n"
              "    printf(\"ring ready\\n\");\n    fflush(stdout);\n    assert(head < cap);\n    return 0;\n}\n")
    ctx.sh("gcc -O0 -o ring ring.c", cwd=d)
    return ctx.run("./ring; rc=$?; exit $rc", cwd=d)


@case("unknown-python-keyerror-01", "unknown", "python3",
      "a Python ETL script that indexes a record by a key the record does not have.",
      CPY, r"KeyError")
def _(ctx):
    d = ctx.dir("etl")
    f = ctx.write(f"{d}/etl.py", "rows = [{'id': 1, 'customer': 'a'}, {'id': 2, 'client': 'b'}]\n\nfor r in rows:\n"
                  "    print('loading', r['id'], r['customer'])\n")
    return ctx.run(f"python3 {f}")


@case("unknown-make-silent-01", "unknown", "make",
      "make check whose recipe runs a script that exits 3 without printing anything.",
      lambda: f"GNU Make {deb('make')}", r"Error 3")
def _(ctx):
    d = ctx.dir("make-silent")
    ctx.write(f"{d}/check.sh", "#!/bin/sh\nexit 3\n", mode=0o755)
    ctx.write(f"{d}/Makefile", "check:\n\t./check.sh\n")
    return ctx.run("make check", cwd=d)


@case("unknown-node-typeerror-01", "unknown", "node",
      "a node script reading a property of an undefined config section.",
      lambda: f"Node.js {cmdver('node --version')}", r"TypeError")
def _(ctx):
    d = ctx.dir("node-typeerror")
    f = ctx.write(f"{d}/report.js", "const cfg = { output: {} };\nconsole.log('writing report');\n"
                  "console.log(cfg.output.format.toUpperCase());\n")
    return ctx.run(f"node {f}")


@case("unknown-java-npe-01", "unknown", "java",
      "a Java single-file program calling a method on a null field.",
      lambda: f"OpenJDK {cmdver('java -version')}", r"NullPointerException")
def _(ctx):
    d = ctx.dir("java-npe")
    ctx.write(f"{d}/Job.java", "public class Job {\n    static String name;\n\n    public static void main(String[] a) {\n"
              "        System.out.println(\"starting job\");\n        System.out.println(name.trim());\n    }\n}\n")
    return ctx.run("java Job.java", cwd=d)


@case("configuration-python-yaml-01", "configuration", "python3",
      "a Python deploy tool loading a YAML settings file with an unquoted colon in a value (PyYAML).",
      lambda: f"PyYAML {pymod('PyYAML')}; CPython 3.11.7",
      r"yaml\.\w+Error|mapping values")
def _(ctx):
    d = ctx.dir("yaml")
    ctx.write(f"{d}/deploy.yml", "service: billing\nreplicas: 2\nimage: registry.local/billing:1.4\n"
              "command: run --mode: fast\n  env: prod\n")
    return ctx.run("python3 -c 'import yaml; print(yaml.safe_load(open(\"deploy.yml\")))'", cwd=d)


@case("configuration-python-toml-01", "configuration", "python3",
      "a Python tool reading a TOML settings file whose string is not closed (tomllib).",
      CPY, r"TOMLDecodeError")
def _(ctx):
    d = ctx.dir("toml")
    ctx.write(f"{d}/settings.toml", "[server]\nhost = \"127.0.0.1\nport = 8080\n")
    return ctx.run("python3 -c 'import tomllib; print(tomllib.load(open(\"settings.toml\", \"rb\")))'", cwd=d)


@case("configuration-jq-json-01", "configuration", "jq",
      "jq reading a JSON feature-flag file with a trailing comma.",
      lambda: f"jq {deb('jq')}", r"parse error")
def _(ctx):
    d = ctx.dir("jq")
    ctx.write(f"{d}/flags.json", "{\n  \"checkout_v2\": true,\n  \"search\": false,\n}\n")
    return ctx.run("jq -e .checkout_v2 flags.json", cwd=d)


@case("configuration-bash-requiredenv-01", "configuration", "bash",
      "a bash deploy step that requires DATABASE_URL with ${VAR:?}, run without it.",
      BASH, r"must be set")
def _(ctx):
    return ctx.run("echo 'preparing release'; : \"${DATABASE_URL:?DATABASE_URL must be set}\"; echo migrating",
                   env={"DATABASE_URL": ""})


@case("configuration-git-badconfig-01", "configuration", "git",
      "git status in a repository whose .git/config has a malformed line.",
      lambda: f"git {deb('git')}", r"bad config line")
def _(ctx):
    d = ctx.dir("git-badcfg")
    ctx.sh(f"/usr/bin/git init -q -b main {d} && printf '[remote \"origin\"\\n\\turl = x\\n' >> {d}/.git/config")
    return ctx.run("/usr/bin/git status", cwd=d)


@case("configuration-node-badoption-01", "configuration", "node",
      "node started with a misspelt V8 option (--max-old-space=256).",
      lambda: f"Node.js {cmdver('node --version')}", r"bad option")
def _(ctx):
    return ctx.run("node --max-old-space=256 -e 'console.log(1)'")


@case("configuration-java-vmoption-01", "configuration", "java",
      "java started with a misspelt -XX option (MaxRAMPercentag).",
      lambda: f"OpenJDK {cmdver('java -version')}", r"Unrecognized VM option")
def _(ctx):
    return ctx.run("java -XX:MaxRAMPercentag=75 -version")


@case("test-python-doctest-01", "test", "python3",
      "python -m doctest on a module whose docstring example no longer matches its output.",
      CPY, r"Test Failed|Failed example")
def _(ctx):
    d = ctx.dir("doctest")
    ctx.write(f"{d}/units.py", "def human(n):\n    \"\"\"\n    >>> human(1536)\n    '1.5 KiB'\n    >>> human(10)\n    '10 B'\n"
              "    \"\"\"\n    return f'{n / 1024:.2f} KiB' if n >= 1024 else f'{n} B'\n")
    return ctx.run("python3 -m doctest -v units.py", cwd=d)


@case("virtualization-qemu-machine-01", "virtualization", "qemu-system-x86_64",
      "qemu-system-x86_64 started with a machine type that does not exist (pc-q99).",
      lambda: f"QEMU {deb('qemu-system-x86')}", r"unsupported machine type|machine")
def _(ctx):
    return ctx.run("timeout 30 qemu-system-x86_64 -machine pc-q99 -accel tcg -m 128 -nographic -display none")


@case("virtualization-qemu-img-shrink-01", "virtualization", "qemu-img",
      "qemu-img resize of a raw disk image to a smaller size without --shrink.",
      lambda: f"qemu-img {cmdver('qemu-img --version')}", r"shrink")
def _(ctx):
    d = ctx.dir("qemu-shrink")
    ctx.sh(f"qemu-img create -q -f raw {d}/disk.raw 64M")
    return ctx.run(f"qemu-img resize -f raw {d}/disk.raw 32M")
