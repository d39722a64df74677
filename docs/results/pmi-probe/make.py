# Probe (not a product): is the math feedback's gain association (this answer for this
# problem) or calibration (answers of this kind after "Answer:")? A copy of data/v2 whose
# feedback file holds the math items (v2p-own) or the same answers under control prompts:
#   v2p-any    - another math problem's prompt (a seeded derangement)
#   v2p-shape - another problem's prompt whose answer has the same shape (digits -> 9,
#                 letters -> a; same length), so answer-kind calibration cancels too
# Only items that have a same-shape partner are kept, in all three copies alike.
# feedback(own) - feedback(X) is the mean pointwise mutual information of problem and
# answer under the model.
import json, os, random, re
src = "/work/main/data/v2"
root = os.path.expanduser("~/.cache/mixagent/persist/runs/v2w/pmi")
items = [json.loads(l) for l in open(os.path.join(src, "feedback.jsonl"))]
math = [it for it in items if it["field"] == "math"]
shape = lambda a: re.sub(r"[A-Za-z]", "a", re.sub(r"[0-9]", "9", a))
by_shape = {}
for i, it in enumerate(math):
    by_shape.setdefault(shape(it["answer"]), []).append(i)
rng = random.Random(11)
keep = [i for i in range(len(math)) if len(by_shape[shape(math[i]["answer"])]) > 1]
general = [it for it in items if it["field"] == "general"]
copies = {"own": [], "any": [], "shape": []}
for i in keep:
    it = math[i]
    j = rng.choice([k for k in range(len(math)) if k != i])
    s = rng.choice([k for k in by_shape[shape(it["answer"])] if k != i])
    copies["own"].append(it)
    copies["any"].append({**it, "prompt": math[j]["prompt"]})
    copies["shape"].append({**it, "prompt": math[s]["prompt"]})
man = json.load(open(os.path.join(src, "manifest.json")))
man["feedback"] = {"general": len(general), "math": len(keep)}
for name, m in copies.items():
    dst = os.path.join(root, "v2p-" + name)
    os.makedirs(dst, exist_ok=True)
    for n in os.listdir(src):
        p = os.path.join(dst, n)
        if n not in ("manifest.json", "feedback.jsonl") and not os.path.lexists(p):
            os.symlink(os.path.join(src, n), p)
    with open(os.path.join(dst, "feedback.jsonl"), "w") as f:
        for o in general + m:
            f.write(json.dumps(o) + "\n")
    json.dump(man, open(os.path.join(dst, "manifest.json"), "w"))
print(f"{len(keep)} of {len(math)} math items have a same-shape partner")
