"""transformers loads a mixagent checkpoint folder on its own: AutoTokenizer gives mixagent's
token ids, AutoModelForCausalLM gives mixagent's logits, and the config names the tokenizer's
real special token. Run by crates/cli/tests/interop.rs.

usage: python hf_checkpoint.py CHECKPOINT EXPECTED.safetensors TEXT
"""

import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

ckpt, expected, text = sys.argv[1:4]
want = load_file(expected)

with open(os.path.join(ckpt, "config.json")) as f:
    raw = json.load(f)
assert "torch_dtype" not in raw, "config.json uses the deprecated torch_dtype key"

tok = AutoTokenizer.from_pretrained(ckpt)
assert tok.eos_token == "<|endoftext|>", tok.eos_token
ids = tok(text)["input_ids"]
assert ids == want["ids"].tolist(), f"token ids differ:\n hf       {ids}\n mixagent {want['ids'].tolist()}"
assert tok.decode(ids) == text, tok.decode(ids)

model = AutoModelForCausalLM.from_pretrained(ckpt)
cfg = model.config
special = (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id)
assert special == (tok.eos_token_id,) * 3, f"bos/eos/pad ids {special}, tokenizer eos {tok.eos_token_id}"
assert model.dtype == torch.float32, model.dtype
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
diff = (logits - want["logits"]).abs().max().item()
assert diff < 1e-4, f"logits differ from mixagent's by up to {diff}"
# Generation stops at and pads with the real end-of-text token (LLaMA's default eos is 2).
out = model.generate(torch.tensor([ids]), max_new_tokens=4, do_sample=False)
assert out.shape[1] <= len(ids) + 4
print(json.dumps({"transformers": transformers.__version__, "tokens": len(ids), "max_logit_diff": diff}))
