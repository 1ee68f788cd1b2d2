#!/usr/bin/env python3
"""Run the failure cases and write tune.jsonl and heldout.jsonl (issue 9).

  run.py                 run every case, write both files
  run.py --only REGEX    run the matching cases only; the others are taken
                         from the last run's results in /tmp/medic-corpus/results
  run.py --list          list the cases
"""
import argparse, importlib, json, os, re, sys, traceback, glob

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib

# Tools held out of tuning: every case whose primary program is one of these
# goes to heldout.jsonl, all others to tune.jsonl.  Chosen by hand, once, so
# that each held-out tool's family still has other tools in tune.
HELDOUT_TOOLS = [
    "haproxy", "named-checkconf", "named-checkzone", "squid", "dnsmasq", "chronyd",
    "logrotate", "apache2ctl", "mariadb", "mariadbd", "redis-cli", "pg_dump", "pgbench",
    "gem", "bundle", "go", "clang", "cmake", "rspec", "ruby", "prove", "perl", "mocha",
    "gnutls-cli", "wget", "rsync", "socat", "tar", "sort", "podman", "virsh",
    "java", "skopeo", "shellcheck", "gzip",
]

FAMILIES = ["daemons", "databases", "apt", "pip", "npm", "ruby", "golang",
            "compilers", "testrunners", "git", "tls", "limits", "storage",
            "virt", "clients", "misc"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                  "tests", "fixtures", "failures"))
    a = ap.parse_args()
    for f in FAMILIES:
        if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases", f + ".py")):
            importlib.import_module("cases." + f)
    ids = [c.id for c in lib.CASES]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate ids {dup}"
    if a.list:
        for c in lib.CASES:
            print(c.id, c.tool, sep="\t")
        return
    os.makedirs(lib.ROOT, exist_ok=True)
    resdir = os.path.join(lib.ROOT, "results")
    os.makedirs(resdir, exist_ok=True)
    if not a.only:
        for p in glob.glob(os.path.join(resdir, "*.json")):
            os.remove(p)
    lib.ensure_user()
    failed = []
    for c in lib.CASES:
        if a.only and not re.search(a.only, c.id):
            continue
        res = os.path.join(resdir, c.id + ".json")
        if os.path.exists(res):
            os.remove(res)
        ctx = lib.Ctx(c)
        print(f"== {c.id}", file=sys.stderr, flush=True)
        try:
            rc, log = c.fn(ctx)
        except Exception:
            failed.append((c.id, "setup error:\n" + traceback.format_exc()))
            continue
        finally:
            ctx.cleanup()
        why = None
        if not log.strip():
            why = "empty log"
        elif rc == 0 and not c.zero_ok:
            why = "exit 0"
        elif not re.search(c.expect, log, re.M):
            why = f"expected /{c.expect}/ not in log"
        if why:
            failed.append((c.id, f"{why} (exit {rc}):\n{log[-3000:]}"))
            continue
        rec = {"id": c.id, "category": c.category, "tool": c.tool,
               "source": c.source() if callable(c.source) else c.source,
               "how": c.how, "exit_code": rc, "log": log}
        with open(res, "w") as f:
            json.dump(rec, f, ensure_ascii=False)
    for fn in reversed(lib.AT_EXIT):
        try:
            fn()
        except Exception as ex:
            print("teardown:", ex, file=sys.stderr)
    # assemble from the results of all registered cases
    tune, held = [], []
    for c in lib.CASES:
        res = os.path.join(resdir, c.id + ".json")
        if not os.path.exists(res):
            continue
        rec = json.load(open(res))
        (held if c.tool in HELDOUT_TOOLS else tune).append(rec)
    for name, recs in (("tune.jsonl", tune), ("heldout.jsonl", held)):
        with open(os.path.join(a.out, name), "w") as f:
            for r in sorted(recs, key=lambda r: r["id"]):
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(tune)} tune and {len(held)} heldout cases", file=sys.stderr)
    for i, why in failed:
        print(f"-- DROPPED {i}: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
