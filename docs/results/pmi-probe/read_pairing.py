# Paired G2 feedback figure under pairing math feedback: per seed, each field's change relative
# to the base, (f - f0)/|f0|, their mean (balanced), helpful-pmi minus uniform, 95% t interval.
import json, os, statistics as st
O = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi/pairing")
fb = lambda n: {f["field"]: f["feedback"] for f in json.load(open(f"{O}/{n}.json"))["feedback"]}
base = fb("base")
print("base:", {k: round(v, 4) for k, v in base.items()})
rel = lambda n: {k: (v - base[k]) / abs(base[k]) for k, v in fb(n).items()}
T = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776}
print("| seed | uniform general | uniform math | helpful general | helpful math | balanced diff |")
print("|---|---|---|---|---|---|")
d = {"general": [], "math": [], "balanced": []}
for s in (100, 101, 102, 103, 104):
    if not all(os.path.exists(f"{O}/{p}-{s}.json") for p in ("uniform", "helpful-pmi")):
        continue
    u, h = rel(f"uniform-{s}"), rel(f"helpful-pmi-{s}")
    for k in ("general", "math"):
        d[k].append(h[k] - u[k])
    d["balanced"].append((h["general"] + h["math"]) / 2 - (u["general"] + u["math"]) / 2)
    print(f"| {s} | {u['general']:+.4f} | {u['math']:+.4f} | {h['general']:+.4f} | {h['math']:+.4f} | {d['balanced'][-1]:+.4f} |")
for k, xs in d.items():
    if len(xs) > 1:
        m, sd = st.mean(xs), st.stdev(xs)
        print(f"{k}: helpful-pmi - uniform = {m:+.4f} ± {T[len(xs)] * sd / len(xs) ** 0.5:.4f} (σ {sd:.4f}, {m / sd:.1f}σ, n={len(xs)})")
