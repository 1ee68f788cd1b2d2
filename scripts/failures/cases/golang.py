"""Go: module proxy closed or disabled, unknown modules, compile errors,
failing and timed-out tests, inconsistent vendoring, HTTP client errors."""
from lib import case, deb

GO = lambda: f"go {deb('golang-1.19-go')}"
GOENV = {"GOPATH": "/tmp/medic-corpus/gopath", "GOCACHE": "/tmp/medic-corpus/gocache",
         "GOSUMDB": "off", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}


def module(ctx, name, files, gomod=None):
    d = ctx.dir(name)
    ctx.write(f"{d}/go.mod", gomod or f"module example.com/{name}\n\ngo 1.19\n")
    for p, t in files.items():
        ctx.write(f"{d}/{p}", t)
    return d


MAIN_DEP = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/corpus/retry\"\n)\n\nfunc main() {\n\tfmt.Println(retry.Default())\n}\n"


@case("network-go-proxyrefused-01", "network", "go",
      "go build of a module that needs a new dependency, with GOPROXY set to a closed loopback port.",
      GO, r"connection refused")
def _(ctx):
    ctx.closed(18600)
    d = module(ctx, "go-proxy", {"main.go": MAIN_DEP})
    return ctx.run("go build ./...", cwd=d, env=dict(GOENV, GOPROXY="http://127.0.0.1:18600"))


@case("package-go-proxyoff-01", "package", "go",
      "go build of a module importing a package from a module that is not in go.mod, with GOPROXY=off.",
      GO, r"GOPROXY=off|no required module")
def _(ctx):
    d = module(ctx, "go-off", {"main.go": MAIN_DEP})
    return ctx.run("go build ./...", cwd=d, env=dict(GOENV, GOPROXY="off"))


@case("package-go-unknownversion-01", "package", "go",
      "go get of a module version that the loopback module proxy does not have (404).",
      GO, r"404|not found|unknown revision")
def _(ctx):
    r = ctx.dir("goproxy")
    ctx.write(f"{r}/example.com/corpus/retry/@v/list", "v1.0.0\nv1.1.0\n")
    ctx.stub(18601, "--dir", r)
    d = module(ctx, "go-get", {"main.go": "package main\n\nfunc main() {}\n"})
    return ctx.run("go get example.com/corpus/retry@v1.4.2", cwd=d, env=dict(GOENV, GOPROXY="http://127.0.0.1:18601"))


@case("build-go-typeerror-01", "build", "go",
      "go build of a package with a type mismatch and an unused import.",
      GO, r"cannot use|imported and not used")
def _(ctx):
    d = module(ctx, "go-build", {"main.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strconv\"\n)\n\n"
                                 "func port() int {\n\treturn os.Getenv(\"PORT\")\n}\n\nfunc main() {\n\tfmt.Println(port())\n}\n"})
    return ctx.run("go build ./...", cwd=d, env=GOENV)


@case("test-go-test-01", "test", "go",
      "go test on a parser package where one table case of four fails.",
      GO, r"--- FAIL")
def _(ctx):
    d = module(ctx, "go-test", {
        "duration.go": "package duration\n\nimport \"strconv\"\n\n// Seconds parses \"90s\" or \"2m\".\nfunc Seconds(s string) int {\n"
                       "\tn, _ := strconv.Atoi(s[:len(s)-1])\n\tif s[len(s)-1] == 'm' {\n\t\treturn n * 60\n\t}\n\treturn n\n}\n",
        "duration_test.go": "package duration\n\nimport \"testing\"\n\nfunc TestSeconds(t *testing.T) {\n"
                            "\tcases := map[string]int{\"90s\": 90, \"2m\": 120, \"1h\": 3600, \"0s\": 0}\n"
                            "\tfor in, want := range cases {\n\t\tif got := Seconds(in); got != want {\n"
                            "\t\t\tt.Errorf(\"Seconds(%q) = %d, want %d\", in, got, want)\n\t\t}\n\t}\n}\n"})
    return ctx.run("go test ./...", cwd=d, env=GOENV)


@case("timeout-go-testdeadline-01", "timeout", "go",
      "go test -timeout 3s on a test that waits 30 s for a message that never comes.",
      GO, r"test timed out")
def _(ctx):
    d = module(ctx, "go-timeout", {
        "wait_test.go": "package wait\n\nimport (\n\t\"testing\"\n\t\"time\"\n)\n\nfunc TestWaitForReady(t *testing.T) {\n"
                        "\tready := make(chan struct{})\n\tselect {\n\tcase <-ready:\n\tcase <-time.After(30 * time.Second):\n"
                        "\t\tt.Fatal(\"never ready\")\n\t}\n}\n"})
    return ctx.run("go test -timeout 3s ./...", cwd=d, env=GOENV)


@case("state_mismatch-go-vendor-01", "state_mismatch", "go",
      "go build -mod=vendor where go.mod requires a module that vendor/modules.txt does not list.",
      GO, r"inconsistent vendoring")
def _(ctx):
    d = module(ctx, "go-vendor", {"main.go": MAIN_DEP, "vendor/modules.txt": "# example.com/corpus/retry v1.0.0\n## explicit\nexample.com/corpus/retry\n",
                                  "vendor/example.com/corpus/retry/retry.go": "package retry\n\nfunc Default() int { return 3 }\n"},
               gomod="module example.com/go-vendor\n\ngo 1.19\n\nrequire example.com/corpus/retry v1.1.0\n")
    return ctx.run("go build -mod=vendor ./...", cwd=d, env=dict(GOENV, GOFLAGS="", GOPROXY="off"))


GOHTTP = ("package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n\t\"time\"\n)\n\nfunc main() {\n"
          "\tc := &http.Client{Timeout: 2 * time.Second}\n\tresp, err := c.Get(os.Args[1])\n\tif err != nil {\n"
          "\t\tfmt.Fprintln(os.Stderr, \"healthcheck:\", err)\n\t\tos.Exit(1)\n\t}\n\tfmt.Println(resp.Status)\n}\n")


@case("network-go-http-refused-01", "network", "go",
      "a Go health-check program (net/http) calling a closed loopback port.",
      GO, r"connection refused")
def _(ctx):
    ctx.closed(18602)
    d = module(ctx, "go-http", {"main.go": GOHTTP})
    return ctx.run("go run . http://127.0.0.1:18602/healthz", cwd=d, env=GOENV)


@case("timeout-go-http-clienttimeout-01", "timeout", "go",
      "a Go health-check program (net/http, 2 s client timeout) against a loopback listener that never answers.",
      GO, r"Client.Timeout|deadline exceeded")
def _(ctx):
    ctx.stub(18603, "--silent")
    d = module(ctx, "go-http", {"main.go": GOHTTP})
    return ctx.run("go run . http://127.0.0.1:18603/healthz", cwd=d, env=GOENV)


@case("network-go-http-resolve-01", "network", "go",
      "a Go health-check program (net/http) calling a host name that does not resolve.",
      GO, r"no such host|lookup")
def _(ctx):
    d = module(ctx, "go-http", {"main.go": GOHTTP})
    return ctx.run("go run . http://api.medic-corpus.invalid/healthz", cwd=d, env=GOENV)
