"""Compilers and build tools: gcc, g++, clang, make, cmake, javac, maven,
rustc (cargo is left to the project's own build), tsc, shellcheck."""
from lib import case, deb, cmdver


@case("build-gcc-missingheader-01", "build", "gcc",
      "gcc compiling a C file that includes a header of a library that is not installed (zstd.h).",
      lambda: f"gcc {deb('gcc-12')}", r"No such file or directory")
def _(ctx):
    d = ctx.dir("gcc-header")
    ctx.write(f"{d}/pack.c", "#include <stdio.h>\n#include <zstd.h>\n\nint main(void) {\n"
              "    printf(\"%u\\n\", ZSTD_versionNumber());\n    return 0;\n}\n")
    return ctx.run("gcc -Wall -O2 -c pack.c -o pack.o", cwd=d)


@case("build-gpp-nomember-01", "build", "g++",
      "g++ compiling a C++ file that calls a member function the class does not have.",
      lambda: f"g++ {deb('g++-12')}", r"error:")
def _(ctx):
    d = ctx.dir("gpp-member")
    ctx.write(f"{d}/queue.cpp", "#include <deque>\n#include <string>\n\nstruct Queue {\n    std::deque<std::string> items;\n"
              "    void push(const std::string& s) { items.push_back(s); }\n};\n\nint main() {\n    Queue q;\n    q.push(\"a\");\n"
              "    return q.size() == 1 ? 0 : 1;\n}\n")
    return ctx.run("g++ -std=c++17 -Wall -o queue queue.cpp", cwd=d)


@case("build-clang-undeclared-01", "build", "clang",
      "clang compiling a C file that uses an undeclared identifier and passes the wrong pointer type.",
      lambda: f"clang {deb('clang-14')}", r"error:")
def _(ctx):
    d = ctx.dir("clang-undecl")
    ctx.write(f"{d}/ring.c", "#include <stdlib.h>\n\nstruct ring { int *buf; size_t cap; };\n\n"
              "int ring_init(struct ring *r, size_t cap) {\n    r->buf = calloc(cap, sizeof *r->buf);\n    r->cap = capacity;\n"
              "    return r->buf != NULL;\n}\n\nint main(void) {\n    struct ring r;\n    return ring_init(&r.cap, 8) ? 0 : 1;\n}\n")
    return ctx.run("clang -Wall -Werror -c ring.c", cwd=d)


@case("build-clang-link-01", "build", "clang",
      "clang linking a program that uses libm's sqrt without -lm and a function defined nowhere.",
      lambda: f"clang {deb('clang-14')}", r"undefined reference|linker command failed")
def _(ctx):
    d = ctx.dir("clang-link")
    ctx.write(f"{d}/stats.c", "#include <math.h>\n#include <stdio.h>\n\ndouble stddev(const double *x, int n);\n\n"
              "int main(int argc, char **argv) {\n    double v[] = {1, 2, 3};\n    printf(\"%f %f\\n\", sqrt((double)argc), stddev(v, 3));\n    return 0;\n}\n")
    return ctx.run("clang -O0 -o stats stats.c", cwd=d)


@case("build-make-norule-01", "build", "make",
      "make all where a target depends on a source file that does not exist and has no rule.",
      lambda: f"GNU Make {deb('make')}", r"No rule to make target")
def _(ctx):
    d = ctx.dir("make-norule")
    ctx.write(f"{d}/Makefile", "CC ?= gcc\nOBJS = main.o net.o\n\nall: server\n\nserver: $(OBJS)\n\t$(CC) -o $@ $^\n\n"
              "%.o: %.c\n\t$(CC) -c $< -o $@\n")
    ctx.write(f"{d}/main.c", "int main(void) { return 0; }\n")
    return ctx.run("make all", cwd=d)


@case("build-make-separator-01", "build", "make",
      "make on a Makefile whose recipe line is indented with spaces instead of a tab.",
      lambda: f"GNU Make {deb('make')}", r"missing separator")
def _(ctx):
    d = ctx.dir("make-sep")
    ctx.write(f"{d}/Makefile", "all: build\n\nbuild:\n    mkdir -p out\n    cp -r src out/\n")
    return ctx.run("make", cwd=d)


@case("build-cmake-findpackage-01", "build", "cmake",
      "cmake configuring a project that find_package(REQUIRED)s a library that is not installed (Protobuf).",
      lambda: f"cmake {deb('cmake')}", r"Could NOT find|Could not find")
def _(ctx):
    d = ctx.dir("cmake-find")
    ctx.write(f"{d}/CMakeLists.txt", "cmake_minimum_required(VERSION 3.16)\nproject(corpus C)\n"
              "find_package(Protobuf REQUIRED)\nadd_executable(app main.c)\n")
    ctx.write(f"{d}/main.c", "int main(void) { return 0; }\n")
    return ctx.run("cmake -S . -B build", cwd=d)


@case("build-cmake-syntax-01", "build", "cmake",
      "cmake configuring a CMakeLists.txt with an unterminated function call.",
      lambda: f"cmake {deb('cmake')}", r"Parse error|CMake Error")
def _(ctx):
    d = ctx.dir("cmake-syntax")
    ctx.write(f"{d}/CMakeLists.txt", "cmake_minimum_required(VERSION 3.16)\nproject(corpus C)\n"
              "add_executable(app main.c\ntarget_compile_options(app PRIVATE -Wall)\n")
    return ctx.run("cmake -S . -B build", cwd=d)


@case("build-javac-symbol-01", "build", "javac",
      "javac compiling a class that calls a method that does not exist and assigns a String to an int.",
      lambda: f"javac {cmdver('javac -version')}", r"error:")
def _(ctx):
    d = ctx.dir("javac")
    ctx.write(f"{d}/src/Billing.java", "import java.util.List;\n\npublic class Billing {\n"
              "    static int total(List<Integer> xs) {\n        int t = 0;\n        for (int x : xs) t += x;\n        return t;\n    }\n\n"
              "    public static void main(String[] args) {\n        int n = total(List.of(1, 2, 3)).toString();\n"
              "        System.out.println(Billing.totl(List.of(4)));\n    }\n}\n")
    return ctx.run("javac -d out src/Billing.java", cwd=d)


POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>test.corpus</groupId>
  <artifactId>billing</artifactId>
  <version>1.0.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release></properties>
  <dependencies>
    <dependency><groupId>com.google.guava</groupId><artifactId>guava</artifactId><version>33.0.0-jre</version></dependency>
  </dependencies>
</project>
"""


@case("network-mvn-refused-01", "network", "mvn",
      "mvn -B compile with settings.xml mirroring every repository to a closed loopback port and an empty local repository.",
      lambda: f"Apache Maven {deb('maven')}", r"Connection refused|Connect to 127.0.0.1")
def _(ctx):
    ctx.closed(18700)
    d = ctx.dir("mvn-refused")
    ctx.write(f"{d}/pom.xml", POM)
    ctx.write(f"{d}/settings.xml", "<settings><localRepository>/tmp/medic-corpus/mvn-refused/m2</localRepository>"
              "<mirrors><mirror><id>corp</id><mirrorOf>*</mirrorOf><url>http://127.0.0.1:18700/maven2</url></mirror></mirrors></settings>\n")
    return ctx.run("mvn -B -s settings.xml compile", cwd=d)


@case("package-mvn-offline-01", "package", "mvn",
      "mvn -B -o (offline) compile with an empty local repository, so no plugin or dependency can be resolved.",
      lambda: f"Apache Maven {deb('maven')}", r"offline|has not been downloaded")
def _(ctx):
    d = ctx.dir("mvn-offline")
    ctx.write(f"{d}/pom.xml", POM)
    return ctx.run("mvn -B -o -Dmaven.repo.local=/tmp/medic-corpus/mvn-offline/m2 compile", cwd=d)


@case("build-rustc-mismatch-01", "build", "rustc",
      "rustc compiling a single file that returns an Option where a Result is expected.",
      lambda: f"rustc {cmdver('rustc --version')}", r"error\[E0308\]")
def _(ctx):
    d = ctx.dir("rustc")
    ctx.write(f"{d}/parse.rs", "use std::num::ParseIntError;\n\nfn port(s: &str) -> Result<u16, ParseIntError> {\n"
              "    s.parse::<u16>().ok()\n}\n\nfn main() {\n    println!(\"{:?}\", port(\"8080\"));\n}\n")
    return ctx.run("rustc --edition 2021 -o parse parse.rs", cwd=d)


@case("build-tsc-types-01", "build", "tsc",
      "tsc --noEmit on a TypeScript module with a wrong argument type and a missing property.",
      lambda: f"TypeScript {cmdver('cd /tmp/medic-corpus/ts-tools && npx tsc --version')}", r"error TS\d+")
def _(ctx):
    tools = "/tmp/medic-corpus/ts-tools"
    ctx.sh(f"mkdir -p {tools} && cd {tools} && ( [ -x node_modules/.bin/tsc ] || npm install --no-audit --no-fund typescript@5 )")
    d = ctx.dir("tsc")
    ctx.write(f"{d}/src/user.ts", "interface User { id: number; email: string }\n\n"
              "export function greet(u: User): string {\n  return `hi ${u.name}`;\n}\n\ngreet({ id: '7', email: 'a@b.c' });\n")
    ctx.write(f"{d}/tsconfig.json", '{ "compilerOptions": { "strict": true, "target": "es2020" }, "include": ["src"] }\n')
    return ctx.run(f"{tools}/node_modules/.bin/tsc --noEmit -p .", cwd=d)


@case("build-shellcheck-lint-01", "build", "shellcheck",
      "shellcheck on a deploy script with unquoted variables and a useless cd without error handling.",
      lambda: f"ShellCheck {deb('shellcheck')}", r"SC\d{4}")
def _(ctx):
    d = ctx.dir("shellcheck")
    ctx.write(f"{d}/deploy.sh", "#!/bin/bash\nTARGET=$1\ncd $TARGET\nfor f in $(ls *.tar.gz); do\n  tar xzf $f\ndone\n"
              "if [ $STATUS == ok ]; then echo done; fi\n")
    return ctx.run("shellcheck deploy.sh", cwd=d)
