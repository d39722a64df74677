"""The result readers (scripts/paired.py, scripts/env2-shares.py over scripts/compare_runs.py)
on a hand-built compare folder whose scores and intervals are worked out by hand below."""
import json
import os
import subprocess
import sys

import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BASE = {"general": -2.0, "math": -4.0}
# seed -> (general, math) final feedback. Against the base: agent (+0.05, +0.10) -> +0.075,
# (+0.10, +0.20) -> +0.150, (0, +0.10) -> +0.050; uniform (0, +0.05) -> +0.025 every seed.
AGENT = {0: (-1.9, -3.6), 1: (-1.8, -3.2), 2: (-2.0, -3.6)}
UNIFORM = {s: (-2.0, -3.8) for s in range(3)}


def feedback(general, math):
    return {"feedback": [{"field": "general", "feedback": general}, {"field": "math", "feedback": math}]}


def write_run(root, folder, policy, seed, shares, final=None, stages=None):
    d = os.path.join(root, "runs", folder, f"seed-{seed}")
    os.makedirs(d)
    run = {
        "policy": policy,
        "config": {"seed": seed, "stages": stages or len(shares), "space": {"fields": ["general", "math"]}},
        "space": [{"field": "general"}, {"field": "general"}, {"field": "math"}],
        "initial": {"feedback": dict(BASE)},
        "stages": [
            {
                "weights": [(1 - s) / 2, (1 - s) / 2, s],
                "observation": {"feedback": {"general": -2.0, "math": -4.0 + s}},
                "tokens_by_domain": {"g1": 100 * (1 - s), "m1": 100 * s},
            }
            for s in shares
        ],
    }
    json.dump(run, open(os.path.join(d, "run.json"), "w"))
    if final:
        json.dump(feedback(*final), open(os.path.join(d, "final-feedback-16.json"), "w"))


@pytest.fixture
def compare(tmp_path):
    root = str(tmp_path)
    json.dump(feedback(BASE["general"], BASE["math"]), open(os.path.join(root, "base-final-feedback-16.json"), "w"))
    for seed, final in AGENT.items():
        write_run(root, "agent_x", "agent:runs/x", seed, [0.5, 0.3], final)
    write_run(root, "agent_x", "agent:runs/x", 3, [0.5, 0.2])  # trained, not yet scored
    write_run(root, "agent_x", "agent:runs/x", 4, [0.5], stages=2)  # still training
    for seed, final in UNIFORM.items():
        write_run(root, "uniform", "uniform", seed, [0.4, 0.4], final)
    return root


def run(script, *args):
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_paired_differences_over_the_shared_scored_seeds(compare):
    out = run("paired.py", compare)
    assert "final score: 16 feedback items a field" in out
    assert "trained but not yet scored on 16 items (rerun the compare): 1 run(s)" in out
    # Differences 0.05, 0.125, 0.025: mean 0.066667, sd 0.052042, t(2) 4.303 -> ± 0.129289.
    assert "vs uniform" in out and "+0.0667 ± 0.1293  [-0.0626, +0.1960]  tie  (n=3)" in out
    assert "agent:runs/x                       50   30" in out


def test_a_clear_difference_wins(compare):
    # The same three differences shifted by +0.2 (uniform's general final 0.4 lower, −0.2 on
    # its balanced score) lie wholly above zero.
    for seed in range(3):
        json.dump(feedback(-2.8, -3.8), open(os.path.join(compare, "runs", "uniform", f"seed-{seed}", "final-feedback-16.json"), "w"))
    assert "+0.2667 ± 0.1293  [+0.1374, +0.3960]  wins  (n=3)" in run("paired.py", compare)


def test_per_seed_lists_each_scored_seed(compare):
    out = run("paired.py", compare, "--per-seed", "agent")
    assert "seed-1: balanced +0.150 (general +0.100, math +0.200), last-stage target share 30%" in out
    assert "uniform" not in out and "seed-3" not in out


def test_without_final_items_the_runs_own_observations_decide(compare):
    out = run("paired.py", compare, "--final-items", "0")
    assert "final score: the runs' last observation" in out
    # Last observation math −4.0 + share: agent −3.7 (+0.075 math, +0.0375 balanced) on seeds
    # 0-3, uniform −3.6 (+0.05): −0.0125 on every shared seed, no spread.
    assert "-0.0125 ± 0.0000" in out and "(n=4)" not in out and "(n=3)" in out


def test_shares_read_runs_still_training_and_the_lowest_seed(compare):
    out = run("env2-shares.py", compare, "agent")
    assert "| agent:runs/x | 20.0% | 30.0 points |" in out
    assert "| 1 | 50.0% (50.0%) |" in out
    assert "| 2 | 27.5% (20.0%) |" in out


def write_trajectory(root, index, math_tokens, helpful_tokens, final, stages=2):
    """One trajectory of a 3-domain space (g1, g2 general; m1 math) over two stages of 100 tokens:
    `math_tokens` on m1, `helpful_tokens` of the general ones on g1, final feedback (general, math)."""
    d = os.path.join(root, "trajectories")
    os.makedirs(d, exist_ok=True)
    per_stage = {"g1": helpful_tokens / 2, "g2": (100 - math_tokens - helpful_tokens) / 2, "m1": math_tokens / 2}
    t = {
        "config": {"stages": stages},
        "space": [{"name": "g1", "field": "general"}, {"name": "g2", "field": "general"}, {"name": "m1", "field": "math"}],
        "initial": {"feedback": dict(BASE)},
        "stages": [
            {"tokens_by_domain": per_stage, "observation": {"feedback": {"general": final[0], "math": final[1]}}}
            for _ in range(2)
        ],
    }
    json.dump(t, open(os.path.join(d, f"t-{index:05}.json"), "w"))


def test_collection_split_bins_trajectories_by_target_share(tmp_path):
    root = str(tmp_path)
    # 10% math: changes (+0.05, 0) -> +0.025; 90% math: (−0.10, +0.20) and (0, +0.10) -> +0.05
    # and +0.05, mean general −0.05, math +0.15; one trajectory unfinished (1 of 3 stages).
    write_trajectory(root, 0, 10, 50, (-1.9, -4.0))
    write_trajectory(root, 1, 90, 0, (-2.2, -3.2))
    write_trajectory(root, 2, 90, 10, (-2.0, -3.6))
    write_trajectory(root, 3, 50, 0, (-1.0, -1.0), stages=3)
    os.makedirs(os.path.join(root, "headroom"))
    relevance = [{"domain": "g1", "help": {"mean": 0.2, "sd": 0.1}}, {"domain": "m1", "help": {"mean": 0.1, "sd": 0.3}}]
    json.dump({"relevance": relevance}, open(os.path.join(root, "headroom", "headroom.json"), "w"))
    out = run("collection-split.py", "--oracle", os.path.join(root, "headroom"), root)
    assert "(3 trajectories)" in out
    assert "| 0%-20% | 1 | +0.050 | +0.000 | **+0.025** |" in out
    assert "| 80%-100% | 2 | -0.050 | +0.150 | **+0.050** |" in out
    # The helpful quarter: g1 only (m1's help is within its spread), so trajectory 0 (50%).
    assert "(50%-50% of their tokens) (1 trajectory)" in out
