"""Test runners: python unittest, pytest, node --test, mocha, perl prove,
ctest; and suites failing because a service they need is down."""
from lib import case, deb, cmdver, pymod


@case("test-python-unittest-01", "test", "python3",
      "python -m unittest on a config-merging module where one test fails and one errors.",
      lambda: "CPython 3.11.7 unittest", r"FAILED \(")
def _(ctx):
    d = ctx.dir("unittest")
    ctx.write(f"{d}/merge.py", "def merge(a, b):\n    out = dict(a)\n    for k, v in b.items():\n"
              "        if isinstance(v, dict) and k in out:\n            out[k] = merge(out[k], v)\n        else:\n            out[k] = v\n    return out\n")
    ctx.write(f"{d}/test_merge.py", "import unittest\nfrom merge import merge\n\n\nclass MergeTest(unittest.TestCase):\n"
              "    def test_flat(self):\n        self.assertEqual(merge({'a': 1}, {'b': 2}), {'a': 1, 'b': 2})\n\n"
              "    def test_lists_are_appended(self):\n        self.assertEqual(merge({'x': [1]}, {'x': [2]}), {'x': [1, 2]})\n\n"
              "    def test_none_base(self):\n        self.assertEqual(merge(None, {'a': 1}), {'a': 1})\n\n\n"
              "if __name__ == '__main__':\n    unittest.main()\n")
    return ctx.run("python3 -m unittest -v test_merge", cwd=d)


@case("test-pytest-parametrize-01", "test", "pytest",
      "pytest on a parametrised semver-comparison test where two of five cases fail.",
      lambda: f"pytest {pymod('pytest')}; CPython 3.11.7", r"\d+ failed")
def _(ctx):
    d = ctx.dir("pytest-semver")
    ctx.write(f"{d}/semver.py", "def newer(a, b):\n    return a > b\n")
    ctx.write(f"{d}/test_semver.py", "import pytest\nfrom semver import newer\n\n\n@pytest.mark.parametrize('a,b,want', [\n"
              "    ('1.2.0', '1.1.9', True),\n    ('1.10.0', '1.9.0', True),\n    ('2.0.0', '2.0.0', False),\n"
              "    ('0.9.1', '0.10.0', False),\n    ('3.0.0', '2.99.0', True),\n])\ndef test_newer(a, b, want):\n    assert newer(a, b) is want\n")
    return ctx.run("python3 -m pytest -p no:cacheprovider -q", cwd=d)


@case("test-mocha-01", "test", "mocha",
      "mocha on a rate-limiter spec where one of three tests fails.",
      lambda: f"mocha {cmdver('/tmp/medic-corpus/js-tools/node_modules/.bin/mocha --version')}; Node.js {cmdver('node --version')}",
      r"failing")
def _(ctx):
    tools = "/tmp/medic-corpus/js-tools"
    ctx.sh(f"mkdir -p {tools} && cd {tools} && ( [ -x node_modules/.bin/mocha ] || npm install --no-audit --no-fund mocha@10 )")
    d = ctx.dir("mocha")
    ctx.write(f"{d}/limiter.js", "module.exports = function limiter(max) {\n  let n = 0;\n"
              "  return () => { n += 1; return n < max; };\n};\n")
    ctx.write(f"{d}/test/limiter.test.js", "const assert = require('assert');\nconst limiter = require('../limiter');\n\n"
              "describe('limiter', () => {\n  it('allows the first call', () => assert.strictEqual(limiter(3)(), true));\n"
              "  it('allows exactly max calls', () => {\n    const take = limiter(2);\n    take();\n    assert.strictEqual(take(), true);\n  });\n"
              "  it('refuses past max', () => {\n    const take = limiter(1);\n    take();\n    assert.strictEqual(take(), false);\n  });\n});\n")
    return ctx.run(f"{tools}/node_modules/.bin/mocha --no-colors", cwd=d)


@case("test-prove-01", "test", "prove",
      "prove -v on a Perl test file where two of four checks of a trim function fail.",
      lambda: f"prove (perl {deb('perl')})", r"Failed|FAIL")
def _(ctx):
    d = ctx.dir("prove")
    ctx.write(f"{d}/lib/Trim.pm", "package Trim;\nsub trim { my $s = shift; $s =~ s/^\\s+//; return $s }\n1;\n")
    ctx.write(f"{d}/t/trim.t", "use strict;\nuse warnings;\nuse Test::More tests => 4;\nuse lib 'lib';\nuse Trim;\n\n"
              "is(Trim::trim('  a'), 'a', 'leading');\nis(Trim::trim('a  '), 'a', 'trailing');\n"
              "is(Trim::trim(' a b '), 'a b', 'both');\nis(Trim::trim('a'), 'a', 'none');\n")
    return ctx.run("prove -v t/", cwd=d)


@case("test-ctest-01", "test", "ctest",
      "ctest on a CMake project whose unit-test executable exits non-zero on one of two tests.",
      lambda: f"ctest (cmake {deb('cmake')})", r"tests failed")
def _(ctx):
    d = ctx.dir("ctest")
    ctx.write(f"{d}/CMakeLists.txt", "cmake_minimum_required(VERSION 3.16)\nproject(corpus C)\nenable_testing()\n"
              "add_executable(crc_test crc_test.c)\nadd_test(NAME crc_empty COMMAND crc_test empty)\nadd_test(NAME crc_known COMMAND crc_test known)\n")
    ctx.write(f"{d}/crc_test.c", "#include <stdio.h>\n#include <string.h>\n\nstatic unsigned crc(const char *s) {\n"
              "    unsigned c = 0; while (*s) c = c * 31 + (unsigned char)*s++; return c;\n}\n\n"
              "int main(int argc, char **argv) {\n    if (!strcmp(argv[1], \"empty\")) return crc(\"\") != 0;\n"
              "    unsigned got = crc(\"medic\");\n    if (got != 0xCBF43926u) { printf(\"crc(medic) = %#x, want 0xcbf43926\\n\", got); return 1; }\n    return 0;\n}\n")
    ctx.sh("cmake -S . -B build && cmake --build build", cwd=d)
    return ctx.run("ctest --test-dir build --output-on-failure", cwd=d)


@case("service_dependency-node-test-redis-01", "service_dependency", "node",
      "node --test on a cache test whose setup connects to Redis on 127.0.0.1:16390, where nothing listens.",
      lambda: f"Node.js {cmdver('node --version')} test runner", r"ECONNREFUSED")
def _(ctx):
    ctx.closed(16390)
    d = ctx.dir("node-test-redis")
    ctx.write(f"{d}/cache.test.js", "const test = require('node:test');\nconst assert = require('node:assert');\nconst net = require('node:net');\n\n"
              "function redisPing(port) {\n  return new Promise((resolve, reject) => {\n"
              "    const s = net.connect(port, '127.0.0.1', () => s.write('PING\\r\\n'));\n"
              "    s.on('data', (d) => { s.end(); resolve(d.toString().trim()); });\n    s.on('error', reject);\n  });\n}\n\n"
              "test('cache answers PING', async () => {\n  assert.strictEqual(await redisPing(16390), '+PONG');\n});\n\n"
              "test('keys are namespaced', () => {\n  assert.strictEqual('app:' + 'k', 'app:k');\n});\n")
    return ctx.run("node --test", cwd=d)
