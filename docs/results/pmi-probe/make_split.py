# Second probe copy set: the math feedback items split in two by a seeded shuffle.
#   v2s-own, v2s-any - half A as the feedback (own prompts; another half-A problem's prompt),
#                      so feedback(own) - feedback(any) is the PMI feedback on half A
#   v2s-kind         - half B as a user task `fb_math_kind`: the gold answer against another
#                      half-B answer of the same length but another shape (digits -> 9,
#                      letters -> a), i.e. does the model know what kind of answer the
#                      question asks for; its manifest lists no feedback sets (the task
#                      builder would drop every item as a feedback prompt)
import json, os, random, re
src = "/work/main/data/v2"
root = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi")
items = [json.loads(l) for l in open(os.path.join(src, "feedback.jsonl"))]
general = [it for it in items if it["field"] == "general"]
math = [it for it in items if it["field"] == "math"]
rng = random.Random(13)
rng.shuffle(math)
a, b = math[: len(math) // 2], math[len(math) // 2 :]
shape = lambda s: re.sub(r"[A-Za-z]", "a", re.sub(r"[0-9]", "9", s))
def link(dst):
    os.makedirs(dst, exist_ok=True)
    for n in os.listdir(src):
        p = os.path.join(dst, n)
        if n not in ("manifest.json", "feedback.jsonl", "tasks.jsonl") and not os.path.lexists(p):
            os.symlink(os.path.join(src, n), p)
man = json.load(open(os.path.join(src, "manifest.json")))
for name, rows in {"own": a, "any": [{**it, "prompt": a[(i + 1 + rng.randrange(len(a) - 1)) % len(a)]["prompt"]} for i, it in enumerate(a)]}.items():
    dst = os.path.join(root, "v2s-" + name)
    link(dst)
    with open(os.path.join(dst, "feedback.jsonl"), "w") as f:
        for o in general + rows:
            f.write(json.dumps(o) + "\n")
    json.dump({**man, "feedback": {"general": len(general), "math": len(rows)}}, open(os.path.join(dst, "manifest.json"), "w"))
tasks = []
for it in b:
    pool = [o["answer"] for o in b if len(o["answer"]) == len(it["answer"]) and shape(o["answer"]) != shape(it["answer"])]
    if pool:
        tasks.append({"task": "fb_math_kind", "field": "math", "prompt": it["prompt"], "options": [it["answer"], rng.choice(pool)], "correct": 0})
dst = os.path.join(root, "v2s-kind")
link(dst)
with open(os.path.join(dst, "tasks.jsonl"), "w") as f:
    for o in tasks:
        f.write(json.dumps(o) + "\n")
m = {**man, "tasks": {"fb_math_kind": len(tasks)}}
m["feedback"] = {}
json.dump(m, open(os.path.join(dst, "manifest.json"), "w"))
print(f"feedback half A: {len(a)} items; fb_math_kind from half B: {len(tasks)} items")
