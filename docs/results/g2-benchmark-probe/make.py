# Probe (not a product): benchmark tasks from the feedback sets' held-out parts, to see
# whether a choice task on that distribution separates the best static mixture from uniform.
import json, os, random, shutil
src = "/work/main/data/v2"
dst = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/fbtasks/v2b")
os.makedirs(dst, exist_ok=True)
for n in os.listdir(src):
    if n in ("manifest.json", "tasks.jsonl"):
        continue
    p = os.path.join(dst, n)
    if not os.path.lexists(p):
        os.symlink(os.path.join(src, n), p)
items = {}
for l in open(os.path.join(src, "feedback.jsonl")):
    it = json.loads(l)
    items.setdefault(it["field"], []).append(it)
rng = random.Random(7)
out = []
m = items["math"]
by_len = {}
for it in m:
    by_len.setdefault(len(it["answer"]), []).append(it["answer"])
for it in m:
    pool = [a for a in by_len[len(it["answer"])] if a != it["answer"]]
    if not pool:
        continue
    out.append({"task": "fb_math_answer", "field": "math", "prompt": it["prompt"],
                "options": [it["answer"], rng.choice(pool)], "correct": 0})
g = items["general"]
cut = lambda a: " ".join(a.split()[:8])
for i, it in enumerate(g):
    other = g[(i + 1 + rng.randrange(len(g) - 1)) % len(g)]
    a, b = cut(it["answer"]), cut(other["answer"])
    if a == b or not a or not b:
        continue
    out.append({"task": "fb_general_continuation", "field": "general", "prompt": it["prompt"],
                "options": [" " + a if not a.startswith(" ") else a, " " + b if not b.startswith(" ") else b], "correct": 0})
with open(os.path.join(dst, "tasks.jsonl"), "w") as f:
    for o in out:
        f.write(json.dumps(o) + "\n")
man = json.load(open(os.path.join(src, "manifest.json")))
counts = {}
for o in out:
    counts[o["task"]] = counts.get(o["task"], 0) + 1
man["tasks"] = counts
json.dump(man, open(os.path.join(dst, "manifest.json"), "w"))
print(counts)
