# Reads run_split.sh's scores. Per static mixture on the demo target model (selection seeds
# 0-2): the general feedback change (from the reading's own table), the math feedback change
# under the current scoring (own) and as PMI against another problem's prompt (half A), and
# the benchmark scores (fb_math_kind from half B, and the tasks alive in the reading).
import glob, json, math, os, statistics as st
O = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi/split")
H = os.path.expanduser("~/.cache/mixagent/persist/runs/headroom-demo-v2-3x")
ALIVE = ["cloze", "word_order", "math_agreement", "math_cloze", "math_word_order"]
def load(stem):
    own = json.load(open(f"{O}/{stem}.own.json"))["feedback"][0]["feedback"]
    pmi = own - json.load(open(f"{O}/{stem}.any.json"))["feedback"][0]["feedback"]
    t = {x["task"]: x for x in json.load(open(f"{O}/{stem}.kind.json"))["tasks"]}
    sc = {k: (t[k]["accuracy"] - t[k]["chance"]) / (1 - t[k]["chance"]) * 100 for k in t}
    return {"own": own, "pmi": pmi, "sc": sc, "acc": {k: t[k]["accuracy"] for k in t}}
bt = load("base-target")
print("base-target fb_math_kind accuracy", round(bt["acc"]["fb_math_kind"], 3), "base-proxy", round(load("base-proxy")["acc"]["fb_math_kind"], 3))
gen = {}
for seed_dir in glob.glob(f"{H}/statics-target/runs/*/seed-*"):
    run = json.load(open(f"{seed_dir}/run.json"))
    rep = json.load(open(sorted(glob.glob(f"{seed_dir}/eval-*.json"))[-1])) if glob.glob(f"{seed_dir}/eval-*.json") else None
groups = {}
for p in glob.glob(f"{O}/statics-target.*.kind.json"):
    stem = os.path.basename(p)[: -len(".kind.json")]
    pol, seed = stem.split(".", 1)[1].rsplit(".", 1)
    if all(os.path.exists(f"{O}/{stem}.{c}.json") for c in ("own", "any")):
        groups.setdefault(pol, {})[seed] = load(stem)
table = json.load(open(f"{H}/statics-target/table.json"))["feedback"]["rows"]
general = {}
for r in table:
    name = os.path.basename(r["policy"]).rsplit("-", 1)[0] if r["policy"].startswith("schedule:") else r["policy"].replace("fixed:", "fixed-")
    general[name] = r["fields"]["general"][0]
rows = []
for pol, seeds in groups.items():
    g = general.get(pol)
    if g is None:
        print("no general figure for", pol); continue
    own = st.mean(s["own"] - bt["own"] for s in seeds.values())
    pmi = st.mean(s["pmi"] - bt["pmi"] for s in seeds.values())
    kind = st.mean(s["sc"]["fb_math_kind"] for s in seeds.values())
    alive = st.mean(st.mean(s["sc"][k] for k in ALIVE) for s in seeds.values())
    rows.append(dict(pol=pol, n=len(seeds), g=g, own=own, pmi=pmi, bal_own=(g + own) / 2, bal_pmi=(g + pmi) / 2, kind=kind, alive=alive, seeds=seeds))
rows.sort(key=lambda r: -r["bal_pmi"])
print("\n| static (target, 3 seeds) | general | math own | math PMI | balanced (PMI) | fb_math_kind score | alive-task avg |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['pol']} ({r['n']}) | {r['g']:+.4f} | {r['own']:+.4f} | {r['pmi']:+.4f} | {r['bal_pmi']:+.4f} | {r['kind']:+.1f} | {r['alive']:+.1f} |")
def rank(xs):
    o = sorted(range(len(xs)), key=lambda i: xs[i]); r = [0] * len(xs)
    for k, i in enumerate(o): r[i] = k
    return r
def rho(x, y):
    rx, ry = rank(x), rank(y); mx, my = st.mean(rx), st.mean(ry)
    return sum((a - mx) * (b - my) for a, b in zip(rx, ry)) / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
col = lambda k: [r[k] for r in rows]
print(f"\nSpearman over {len(rows)} statics: math PMI vs fb_math_kind {rho(col('pmi'), col('kind')):+.2f}; math own vs fb_math_kind {rho(col('own'), col('kind')):+.2f}; "
      f"balanced(PMI) vs alive avg {rho(col('bal_pmi'), col('alive')):+.2f}; balanced(own) vs alive avg {rho(col('bal_own'), col('alive')):+.2f}")
uni = next((r for r in rows if r["pol"] == "uniform"), None)
for key in ("bal_pmi", "bal_own"):
    best = max((r for r in rows if r["pol"] != "uniform"), key=lambda r: r[key])
    if uni:
        common = sorted(set(best["seeds"]) & set(uni["seeds"]))
        for task, f in (("fb_math_kind", lambda s: s["sc"]["fb_math_kind"]), ("alive avg", lambda s: st.mean(s["sc"][k] for k in ALIVE)),
                        ("alive avg + fb_math_kind", lambda s: st.mean([s["sc"][k] for k in ALIVE] + [s["sc"]["fb_math_kind"]]))):
            d = [f(best["seeds"][s]) - f(uni["seeds"][s]) for s in common]
            print(f"best by {key} = {best['pol']}: {task} − uniform = {st.mean(d):+.1f} (per seed {', '.join(f'{x:+.1f}' for x in d)})")
