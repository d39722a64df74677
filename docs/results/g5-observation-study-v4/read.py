"""G5's branch reading of a compare folder (the headroom command's rule, `BranchShare` in
crates/report/src/headroom.rs, done again here for a compare run outside `headroom`): the
reward of stage AT (the change of the balanced feedback score during it) over mixtures × seeds,
the seed as a block; share = σ²_mix / (σ²_mix + MS_residual).

Several folders are read on the same mixtures × seeds: those complete in every one (a probe
still running is read against the reading on the mixtures it has finished).

usage: read.py COMPARE_OUT [COMPARE_OUT ...]   (stage 12, the study config's branch stage)"""
import glob
import json
import statistics as st
import sys

at = 12


def balanced(obs, init):
    f = obs["feedback"]
    return st.mean((f[k] - init["feedback"][k]) / abs(init["feedback"][k]) for k in f)


def rewards(out):
    y = {}
    for path in glob.glob(f"{out}/runs/*/seed-*/run.json"):
        r = json.load(open(path))
        init, stages = r["initial"], r["stages"]
        if len(stages) <= at:
            continue
        before = balanced(stages[at - 1]["observation"], init) if at > 0 else 0.0
        y.setdefault(r["policy_name"], {})[r["config"]["seed"]] = (
            balanced(stages[at]["observation"], init) - before)
    return y


ys = {out: rewards(out) for out in sys.argv[1:]}
seeds = sorted(set.union(*(set(v) for y in ys.values() for v in y.values())))
names = sorted(n for n in set.intersection(*(set(y) for y in ys.values()))
               if all(set(y[n]) == set(seeds) for y in ys.values()))
m, k = len(names), len(seeds)
for out, y in ys.items():
    t = [[y[n][s] for s in seeds] for n in names]
    mix = [st.mean(v) for v in t]
    seed = [st.mean(t[i][j] for i in range(m)) for j in range(k)]
    grand = st.mean(mix)
    ms_mix = k * sum((x - grand) ** 2 for x in mix) / (m - 1)
    res = sum((t[i][j] - mix[i] - seed[j] + grand) ** 2 for i in range(m) for j in range(k))
    ms_res = res / ((m - 1) * (k - 1))
    var_mix = max((ms_mix - ms_res) / k, 0.0)
    print(f"{out}: {m} mixtures × {k} seeds at stage {at}: share "
          f"{var_mix / (var_mix + ms_res):.2f} (σ_mix {var_mix ** 0.5:.4f}, noise "
          f"{ms_res ** 0.5:.4f}; G5 asks 0.30)")
