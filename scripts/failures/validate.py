#!/usr/bin/env python3
"""Check tests/fixtures/failures/{dev,tune,heldout}.jsonl: every line parses,
required fields are present, categories are valid, ids are unique across
the three files, logs are at most 64 KiB, and the tune/heldout split is by
tool.  Prints counts per category and file."""
import collections, json, os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import HELDOUT_TOOLS

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "failures")
CATS = {"network", "storage", "resource_exhaustion", "service_dependency", "credential", "configuration",
        "timeout", "package", "build", "test", "virtualization", "state_mismatch", "unknown"}
REQ = ["id", "category", "source", "how", "exit_code", "log"]
bad, ids, counts = [], collections.Counter(), collections.defaultdict(collections.Counter)
tools = collections.defaultdict(set)
for name in ("dev.jsonl", "tune.jsonl", "heldout.jsonl"):
    for n, line in enumerate(open(os.path.join(D, name), encoding="utf-8"), 1):
        try:
            r = json.loads(line)
        except ValueError as e:
            bad.append(f"{name}:{n}: {e}")
            continue
        for k in REQ + ([] if name == "dev.jsonl" else ["tool"]):
            if k not in r:
                bad.append(f"{name}:{n}: missing {k}")
        if r.get("category") not in CATS:
            bad.append(f"{name}:{n}: bad category {r.get('category')}")
        if not isinstance(r.get("exit_code"), int):
            bad.append(f"{name}:{n}: exit_code not an integer")
        if not r.get("log", "").strip():
            bad.append(f"{name}:{n}: empty log")
        if len(r.get("log", "").encode()) > 64 * 1024 + 4:
            bad.append(f"{name}:{n}: log over 64 KiB")
        if not re.match(re.escape(r.get("category", "")) + r"-[\w.+-]+-\d\d$", r.get("id", "")):
            bad.append(f"{name}:{n}: id {r.get('id')} not <category>-<tool>-<condition>-NN")
        if name != "dev.jsonl":
            held = r.get("tool") in HELDOUT_TOOLS
            if held != (name == "heldout.jsonl"):
                bad.append(f"{name}:{n}: tool {r.get('tool')} in the wrong file")
            tools[name].add(r.get("tool"))
        ids[r.get("id")] += 1
        counts[name][r.get("category")] += 1
bad += [f"duplicate id {i}" for i, k in ids.items() if k > 1]
for name in ("tune.jsonl", "heldout.jsonl"):
    print(f"{name}: {sum(counts[name].values())} cases, {len(tools[name])} tools")
print(f"{'category':20} {'dev':>4} {'tune':>5} {'held':>5}")
for c in sorted(CATS):
    print(f"{c:20} {counts['dev.jsonl'][c]:4} {counts['tune.jsonl'][c]:5} {counts['heldout.jsonl'][c]:5}")
alltools = tools["tune.jsonl"] | tools["heldout.jsonl"]
print(f"held-out tools: {len(tools['heldout.jsonl'])} of {len(alltools)}")
for b in bad:
    print("BAD", b)
sys.exit(1 if bad else 0)
