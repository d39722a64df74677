"""The pretraining mix of the unseen-source-field base (experiments/env2/source.toml), as
`mixagent pretrain --mix` takes it: six general domains (the Brown genres, Shakespeare and
WordNet; no dictionary, glossary, documentation or distractor text) at equal weight, 80% in
all, and the math domains exactly as the target base read them, 20% in all.

    python3 scripts/env2-source-mix.py data/v5/manifest.json runs/study-v5/target/run.json
"""

import json
import sys

SOURCE = ["brown_press", "brown_popular", "brown_learned", "brown_fiction", "shakespeare", "wordnet"]


def main(manifest_path: str, base_run_path: str) -> None:
    with open(manifest_path) as f:
        fields = {d["name"]: d["field"] for d in json.load(f)["domains"]}
    missing = [d for d in SOURCE if fields.get(d) != "general"]
    if missing:
        sys.exit(f"{manifest_path}: no general domain {', '.join(missing)}")
    with open(base_run_path) as f:
        weights = json.load(f)["schedule"]["stages"][0]["weights"]
    math = {d: w for d, w in weights.items() if fields.get(d) == "math" and w > 0}
    total = sum(math.values())
    if not 0.0 < total < 1.0:
        sys.exit(f"{base_run_path}: its base read {total:.3f} math; expected a share in (0, 1)")
    mix = {d: (1.0 - total) / len(SOURCE) for d in SOURCE}
    mix.update(math)
    print(",".join(f"{d}={w:.6g}" for d, w in mix.items()))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
