"""Reading a `mixagent compare` folder's finished runs: the one reader behind
`scripts/paired.py` (paired differences, per-seed listing) and `scripts/env2-shares.py`.
Standard library only.

A run counts once it has trained every stage. Its final balanced score is the mean over fields
of the relative change against the base, read from the final evaluation
(`base-final-feedback-N.json` beside the run's `final-feedback-N.json`) when the compare ran
with `final_items = N`, else from the run's own last observation against its initial one.
"""
import glob
import json
import os
import sys


def feedback(path):
    """Field -> feedback of one feedback file (a run's final evaluation or the base's)."""
    try:
        return {e["field"]: e["feedback"] for e in json.load(open(path))["feedback"]}
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
        sys.exit(f"{path}: unreadable feedback file ({e!r}); rerun the compare to rewrite it")


def final_sizes(compare):
    """The item counts the folder's base was scored on, ascending."""
    return sorted(int(p.rsplit("-", 1)[1][:-5]) for p in glob.glob(os.path.join(compare, "base-final-feedback-*.json")))


def fields_of(run):
    """The run's fields in space order; the first is the source, the others the target."""
    fields = []
    for e in run["space"]:
        if e["field"] not in fields:
            fields.append(e["field"])
    return fields


def shares(run):
    """Target (non-source) share of every stage's mixture."""
    source = fields_of(run)[0]
    target = [i for i, e in enumerate(run["space"]) if e["field"] != source]
    return [sum(s["weights"][i] for i in target) for s in run["stages"]]


def tokens(run):
    """Domain -> tokens trained on it over the run's stages (a run.json or a trajectory file)."""
    out = {}
    for stage in run["stages"]:
        for name, n in stage["tokens_by_domain"].items():
            out[name] = out.get(name, 0) + n
    return out


def changes(start, end, fields):
    """Field -> relative change of the feedback against the start, (f − f₀)/|f₀|."""
    return {f: (end[f] - start[f]) / abs(start[f]) for f in fields}


def short_name(policy):
    """A policy spec from its run folder on: `agent:/abs/runs/env2-prior/agent-t1` ->
    `agent:env2-prior/agent-t1`."""
    kind, _, path = policy.partition(":")
    return f"{kind}:{path.rstrip('/').split('/runs/')[-1]}" if "/" in path else policy


class Run:
    """One finished run: its policy, seed, folder, final field changes and target shares."""

    def __init__(self, folder, run, changes):
        self.folder = folder
        self.run = run
        self.policy = run["policy"]
        self.seed = run["config"]["seed"]
        self.changes = changes  # field -> relative change against the base
        self.balanced = sum(changes.values()) / len(changes)
        self.shares = shares(run)


def load(compare, wanted=()):
    """(run folder, run.json) of every run the folder holds, finished or not, in path order;
    `wanted`: substrings of the policy folder names to keep (all when empty)."""
    for path in sorted(glob.glob(os.path.join(compare, "runs", "*", "seed-*", "run.json"))):
        folder = os.path.dirname(path)
        if wanted and not any(w in folder.split(os.sep)[-2] for w in wanted):
            continue
        try:
            yield folder, json.load(open(path))
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"{path}: {e}; rerun the comparison to rewrite it")


def read(compare, final_items=None, wanted=()):
    """The folder's finished runs and the runs trained but not yet scored on the final items.

    `final_items`: None takes the largest N the folder has (0 when none: the runs' own
    observation); `wanted`: substrings of the policy folder names to keep (all when empty)."""
    if final_items is None:
        sizes = final_sizes(compare)
        final_items = sizes[-1] if sizes else 0
    base = feedback(os.path.join(compare, f"base-final-feedback-{final_items}.json")) if final_items else None
    runs, unscored = [], []
    for folder, run in load(compare, wanted):
        if len(run["stages"]) < run["config"]["stages"]:
            continue  # still training
        if final_items:
            final = os.path.join(folder, f"final-feedback-{final_items}.json")
            if not os.path.exists(final):
                unscored.append(folder)
                continue
            start, end = base, feedback(final)
        else:
            start = run["initial"]["feedback"]
            end = run["stages"][-1]["observation"]["feedback"]
        runs.append(Run(folder, run, changes(start, end, fields_of(run))))
    return final_items, runs, unscored


def by_policy(runs):
    """Policy -> seed -> Run, policies in first-seen order."""
    out = {}
    for r in runs:
        out.setdefault(r.policy, {})[r.seed] = r
    return out


def helpful_domains(headroom):
    """The domains of a headroom reading's `helpful-only` mixture: each domain whose removal
    costs its own field more than one standard deviation of the ablation (`help.mean > sd`), the
    rule of `mixagent_baselines::oracle`, read from the report alone (its mixture files may be
    gone with the runs)."""
    path = os.path.join(headroom, "headroom.json")
    try:
        relevance = json.load(open(path))["relevance"]
        helpful = {
            r["domain"]
            for r in relevance
            if r["help"]["mean"] > max(r["help"].get("sd") or 0.0, 0.0)
        }
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
        sys.exit(f"{path}: no relevance ablation ({e!r}); give a finished headroom reading")
    if not helpful:
        sys.exit(f"{path}: no domain helps its field; give a finished headroom reading")
    return helpful
