"""Writes the 5-seed extension of a comparison (issue 21, point 5): the agent and the three
strongest baselines of its 3-seed table, by mean balanced score, on seeds 0-4 (0-2 are the
3-seed comparison's runs, reused when it shares the run folder).

    python3 scripts/env2-five-seeds.py CONFIG.toml TABLE.json OUT.toml

The oracle (a reference line) and every agent are left out of the ranking; the agents of the
config all get the extra seeds. The written config keeps the original's `run`, `set`,
`final_items` and `static_observe_items`, so its runs pair with the first three seeds' in the
same run folder.
"""

import json
import os
import sys
import tomllib


def main(config_path: str, table_path: str, out_path: str) -> None:
    with open(config_path, "rb") as f:
        config = tomllib.load(f)
    with open(table_path) as f:
        rows = json.load(f)["feedback"]["rows"]
    agents = [p for p in config["policies"] if p.startswith("agent:")]
    listed = set(config["policies"])
    # Table rows name policies as the config wrote them.
    baselines = [
        r for r in rows
        if r["policy"] in listed and not r["policy"].startswith(("agent:", "oracle:"))
    ]
    if len(baselines) < 3:
        sys.exit(f"{table_path}: {len(baselines)} baselines in the table, 3 needed: is the comparison finished?")
    baselines.sort(key=lambda r: r["balanced"][0], reverse=True)
    strongest = [r["policy"] for r in baselines[:3]]
    lines = [
        f"# Five seeds of {config_path}: its agents and the three strongest baselines of",
        f"# {table_path} by mean balanced score (written by scripts/env2-five-seeds.py).",
        f"run = {json.dumps(config['run'])}",
        "set = [" + ", ".join(json.dumps(s) for s in config.get("set", [])) + "]",
        "seeds = [0, 1, 2, 3, 4]",
    ]
    for key in ("final_items", "static_observe_items"):
        if key in config:
            lines.append(f"{key} = {config[key]}")
    if "benchmarks" in config:
        lines.append(f"benchmarks = {str(config['benchmarks']).lower()}")
    lines.append("policies = [" + ", ".join(json.dumps(p) for p in agents + strongest) + "]")
    with open(out_path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")

    os.replace(out_path + ".tmp", out_path)
    print(f"{out_path}: {', '.join(agents + strongest)} on seeds 0-4")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
