# Benchmarks of compare-confirm.toml's models, paired by seed: helpful-pmi minus uniform per
# task, and the average over the tasks alive for the base (per field, then the two fields).
import json, os, statistics as st
C = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi/confirm")
base = {t["task"]: t for t in json.load(open(f"{C}/base-eval-full.json"))["tasks"]}
alive = [k for k, t in base.items() if t["alive"]]
print("base accuracy:", {k: round(t["accuracy"], 3) for k, t in base.items() if k in alive + ["answer_kind"]})
sc = lambda t: (t["accuracy"] - t["chance"]) / (1 - t["chance"]) * 100
def scores(p, s):
    r = json.load(open(f"{C}/runs/schedule_docs_results_pmi-probe_{p}.json/seed-{s}/eval-full.json"))
    return {t["task"]: t for t in r["tasks"]}
T = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}
rows = {}
for s in (100, 101, 102, 103, 104):
    u, h = scores("uniform", s), scores("helpful-pmi", s)
    for k in alive + ["answer_kind"]:
        rows.setdefault(k, []).append(sc(h[k]) - sc(u[k]))
    avg = lambda x: st.mean([st.mean(sc(x[k]) for k in alive if base[k]["field"] == f) for f in ("general", "math")])
    rows.setdefault("benchmark average (alive, per field then fields)", []).append(avg(h) - avg(u))
    rows.setdefault("uniform answer_kind accuracy", []).append(u["answer_kind"]["accuracy"])
    rows.setdefault("helpful-pmi answer_kind accuracy", []).append(h["answer_kind"]["accuracy"])
print("| task | helpful-pmi − uniform (paired, 95% t, 5 seeds) |")
print("|---|---|")
for k, xs in rows.items():
    m, sd = st.mean(xs), st.stdev(xs)
    unit = "" if "accuracy" in k else " points"
    print(f"| {k} | {m:+.3f} ± {T[len(xs)] * sd / len(xs) ** 0.5:.3f}{unit} |" if "accuracy" in k else f"| {k} | {m:+.1f} ± {T[len(xs)] * sd / len(xs) ** 0.5:.1f}{unit} |")
