"""Steer a plain PyTorch training loop with mixagent, stage by stage.

The loop owns everything: per-domain token streams, the model, the optimizer. Between stages
it measures the model's feedback per field, the mean per-token log-probability of the gold
answers of a small question set per field, and asks the controller for the next mixture.
Per-domain held-out losses are optional: the agent reads them when given, DBL and DoReMi need
them.

    pip install mixagent torch
    python torch_loop.py --agent runs/agent-demo --data tokens.pt

`tokens.pt` (torch.save): {"domains": {"web": {"field": "general", "train": LongTensor,
"heldout": LongTensor}, ...}, "feedback": {"general": [(prompt_ids, answer_ids), ...], ...}}
with token ids from your tokenizer; the first domain's field is the source field. Without
--data it runs on random tokens, to try the plumbing.
"""

import argparse

import torch
import torch.nn.functional as F

import mixagent


class TinyLM(torch.nn.Module):
    """A stand-in causal LM; put your own model here."""

    def __init__(self, vocab, dim=128, layers=2, heads=4, context=128):
        super().__init__()
        self.emb, self.pos = torch.nn.Embedding(vocab, dim), torch.nn.Embedding(context, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True, norm_first=True)
        self.blocks = torch.nn.TransformerEncoder(layer, layers)
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(t, device=ids.device)
        x = self.emb(ids) + self.pos(torch.arange(t, device=ids.device))
        return self.head(self.blocks(x, mask=mask, is_causal=True))


def sample_batch(streams, weights, batch, context, gen):
    """`batch` windows of `context + 1` tokens, each from a domain drawn by `weights`."""
    names = list(weights)
    probs = torch.tensor([weights[n] for n in names])
    picks = torch.multinomial(probs, batch, replacement=True, generator=gen)
    rows = []
    for i in picks.tolist():
        s = streams[names[i]]
        start = torch.randint(0, len(s) - context - 1, (1,), generator=gen).item()
        rows.append(s[start : start + context + 1])
    return torch.stack(rows)


@torch.no_grad()
def gold_logprob(model, items):
    total, count = 0.0, 0
    for prompt, answer in items:
        ids = torch.cat([prompt, answer])[None]
        logp = F.log_softmax(model(ids[:, :-1]), dim=-1)[0]
        targets = ids[0, len(prompt) :]
        total += logp[len(prompt) - 1 :].gather(1, targets[:, None]).sum().item()
        count += len(answer)
    return total / max(count, 1)


@torch.no_grad()
def heldout_loss(model, stream, context, windows=8):
    rows = torch.stack([stream[i * context : i * context + context + 1] for i in range(windows)])
    logits = model(rows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1)).item()


def observe(model, data, context):
    model.eval()
    feedback = {field: gold_logprob(model, items) for field, items in data["feedback"].items()}
    losses = {n: heldout_loss(model, d["heldout"], context) for n, d in data["domains"].items()}
    model.train()
    return feedback, losses


def random_data(vocab=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    spec = [("web", "general"), ("books", "general"), ("proofs", "math"), ("qa", "math")]
    domains = {
        n: {"field": f, "train": torch.randint(0, vocab, (20000,), generator=g),
            "heldout": torch.randint(0, vocab, (4000,), generator=g)}
        for n, f in spec
    }
    item = lambda: (torch.randint(0, vocab, (12,), generator=g), torch.randint(0, vocab, (4,), generator=g))
    return {"domains": domains, "feedback": {"general": [item() for _ in range(16)], "math": [item() for _ in range(16)]}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", help="agent artifact folder (mixagent train-agent)")
    ap.add_argument("--policy", help="or a baseline policy: uniform, fixed:0.7, doremi, ...")
    ap.add_argument("--data")
    ap.add_argument("--stages", type=int, default=10)
    ap.add_argument("--steps-per-stage", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    data = torch.load(args.data) if args.data else random_data(seed=args.seed)
    vocab = 1 + max(int(d["train"].max()) for d in data["domains"].values())
    torch.manual_seed(args.seed)
    model = TinyLM(vocab, context=args.context)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    gen = torch.Generator().manual_seed(args.seed)

    domains = [(n, d["field"]) for n, d in data["domains"].items()]
    tokens = {n: len(d["train"]) for n, d in data["domains"].items()}
    if args.agent:
        controller = mixagent.Controller.load(args.agent, domains, total_stages=args.stages, tokens=tokens)
    else:
        controller = mixagent.Controller(args.policy or "uniform", domains, args.stages, tokens=tokens)
    streams = {n: d["train"] for n, d in data["domains"].items()}

    feedback, losses = observe(model, data, args.context)
    controller.observe(feedback, domain_loss=losses)
    for stage in range(args.stages):
        weights = controller.next_mixture()
        for _ in range(args.steps_per_stage):
            rows = sample_batch(streams, weights, args.batch_size, args.context, gen)
            logits = model(rows[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, vocab), rows[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
        feedback, losses = observe(model, data, args.context)
        controller.observe(feedback, domain_loss=losses,
                           tokens=args.steps_per_stage * args.batch_size * args.context)
        shown = ", ".join(f"{d} {w:.3f}" for d, w in weights.items())
        print(f"stage {stage}: {shown} | feedback " + ", ".join(f"{f} {v:.3f}" for f, v in feedback.items()))


if __name__ == "__main__":
    main()
