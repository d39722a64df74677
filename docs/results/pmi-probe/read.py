# Reads run.sh's scores: per-domain change of three math feedbacks after single-domain CPT
# (the relevance ablation, proxy), and how the static mixtures on the target model rank under
# each against the alive benchmark average of the reading.
import glob, json, math, os, statistics as st, sys
O = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi/scores")
H = os.path.expanduser("~/.cache/mixagent/persist/runs/headroom-demo-v2-3x")
def fb(name, c):
    return json.load(open(f"{O}/{name}.{c}.json"))["feedback"][0]["feedback"]
def kinds(name):
    own = fb(name, "own")
    return {"own": own, "pmi_any": own - fb(name, "any"), "pmi_shape": own - fb(name, "shape")}
def groups(phase):
    g = {}
    for p in glob.glob(f"{O}/{phase}.*.own.json"):
        stem = os.path.basename(p)[: -len(".own.json")]
        pol, seed = stem.split(".", 1)[1].rsplit(".", 1)
        if all(os.path.exists(f"{O}/{stem}.{c}.json") for c in ("any", "shape")):
            g.setdefault(pol, {})[seed] = kinds(stem)
    return g
base = kinds("base-proxy")
print("bases:", {k: round(v, 4) for k, v in base.items()}, {k: round(v, 4) for k, v in kinds("base-target").items()})
rel = groups("relevance")
rows = []
for pol, seeds in rel.items():
    r = {"domain": pol.replace("single-", ""), "n": len(seeds)}
    for k in base:
        xs = [s[k] - base[k] for s in seeds.values()]
        r[k] = (st.mean(xs), st.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan"))
    rows.append(r)
rows.sort(key=lambda r: -r["pmi_any"][0])
print("\nChange of the math feedback from the proxy base after the whole CPT budget on one domain (relevance runs of the third reading), mean ± standard error over seeds:\n")
print("| domain | seeds | own (current feedback) | PMI vs any prompt | PMI vs same-shape prompt |")
print("|---|---|---|---|---|")
for r in rows:
    f = lambda k: f"{r[k][0]:+.4f} ± {r[k][1]:.4f}"
    print(f"| {r['domain']} | {r['n']} | {f('own')} | {f('pmi_any')} | {f('pmi_shape')} |")

# Static mixtures on the target model: the math feedback's change from the target base under
# each reading, mean over the 3 selection seeds, and the ranks they give.
bt = kinds("base-target")
stat = groups("statics-target")
rows = []
for pol, seeds in stat.items():
    rows.append((pol, *[st.mean(s[k] - bt[k] for s in seeds.values()) for k in ("own", "pmi_any", "pmi_shape")]))
rows.sort(key=lambda r: -r[2])
print("\n| static mixture (target model) | own | PMI vs any prompt | PMI vs same-shape prompt |")
print("|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]:+.4f} | {r[2]:+.4f} | {r[3]:+.4f} |")
def rank(xs):
    o = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0] * len(xs)
    for k, i in enumerate(o):
        r[i] = k
    return r
def rho(x, y):
    rx, ry = rank(x), rank(y)
    mx, my = st.mean(rx), st.mean(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return num / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
print(f"\nSpearman over the {len(rows)} statics: own vs PMI-any {rho([r[1] for r in rows], [r[2] for r in rows]):+.2f}; "
      f"own vs PMI-shape {rho([r[1] for r in rows], [r[3] for r in rows]):+.2f}")
