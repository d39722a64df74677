"""The Python module against a simulated trainer: the controller's mixtures, its state round
trip, agreement with `mixagent next`, and the errors a trainer sees for bad input. Needs no
torch. `MIXAGENT_TEST_AGENT` names an agent artifact folder (scripts/python.sh writes an
untrained one); `MIXAGENT_BIN` the `mixagent-next` binary."""

import json
import math
import os
import subprocess

import pytest

import mixagent

DOMAINS = [("web", "general"), ("books", "general"), ("proofs", "math"), ("qa", "math")]
TOKENS = {"web": 600, "books": 200, "proofs": 100, "qa": 300}
BASE = {"general": -3.0, "math": -5.0}


def feedback_after(weights, before):
    """A model whose source feedback falls and target feedback rises with the target share."""
    target = weights["proofs"] + weights["qa"]
    return {"general": before["general"] - 0.2 * target + 0.05, "math": before["math"] + 0.3 * target}


def losses_after(weights, before):
    return {d: before[d] * (1.0 - 0.1 * w) for d, w in weights.items()}


def run(policy, rebuild=False, stages=4):
    c = mixagent.Controller(policy, DOMAINS, total_stages=stages, tokens=TOKENS, seed=3)
    fb, loss = dict(BASE), {d: 4.0 for d, _ in DOMAINS}
    c.observe(fb, domain_loss=loss)
    mixtures = []
    for stage in range(stages):
        if rebuild:
            c = mixagent.Controller.from_state(c.state_json())
        assert c.stage == stage
        w = c.next_mixture()
        assert list(w) == [d for d, _ in DOMAINS]
        assert math.isclose(sum(w.values()), 1.0, abs_tol=1e-9)
        assert all(x >= 0.0 for x in w.values())
        assert c.next_mixture() == w, "asking twice gives the same mixture"
        fb, loss = feedback_after(w, fb), losses_after(w, loss)
        if rebuild:
            c = mixagent.Controller.from_state(c.state_json())
        c.observe(fb, domain_loss=loss, tokens=1000)
        mixtures.append(w)
    with pytest.raises(mixagent.MixagentError, match="all 4 stages are done"):
        c.next_mixture()
    return mixtures


@pytest.mark.parametrize("policy", ["uniform", "fixed:0.7", "dbl", "doremi", "odm"])
def test_a_rebuilt_controller_decides_as_the_live_one(policy):
    assert run(policy) == run(policy, rebuild=True)


def test_fixed_ratio_and_feedback_driven_policies():
    fixed = run("fixed:0.7")[0]
    assert math.isclose(fixed["web"] + fixed["books"], 0.7)
    assert math.isclose(fixed["web"] / fixed["books"], 3.0), "within a field, by tokens"
    doremi = run("doremi")
    assert doremi[0] != doremi[-1], "DoReMi moves with the losses it is shown"


def test_state_file_round_trip_and_own_mixture(tmp_path):
    c = mixagent.Controller("odm", {"web": "general", "proofs": "math"}, total_stages=3)
    assert c.domains == ["web", "proofs"] and c.policy == "odm" and c.total_stages == 3
    c.observe(BASE, domain_loss={"web": 4.0, "proofs": 4.0})
    c.record({"web": 0.5, "proofs": 0.5}, {"general": -3.1, "math": -4.0}, {"web": 3.9, "proofs": 3.5}, 10)
    path = tmp_path / "state.json"
    c.save(path)
    state = json.loads(path.read_text())
    assert state["stages"][0]["weights"] == {"web": 0.5, "proofs": 0.5}
    again = mixagent.Controller.from_state(path)
    assert again.next_mixture() == c.next_mixture()
    assert "stage=1/3" in repr(c)


def test_token_counts_may_be_floats_with_whole_values():
    # docs/controller.md writes corpus sizes as 8e9; they must mean what the ints mean.
    ints = {"web": 8_000_000_000, "books": 2_000_000_000, "proofs": 1_000_000_000, "qa": 3}
    floats = {"web": 8e9, "books": 2e9, "proofs": 1e9, "qa": 3.0}
    mixtures = []
    for tokens in (ints, floats):
        c = mixagent.Controller("fixed:0.7", DOMAINS, total_stages=2, tokens=tokens)
        c.observe(BASE, tokens=0.0)
        first = c.next_mixture()
        c.observe(feedback_after(first, BASE), tokens=4.096e6)
        mixtures.append((first, c.next_mixture()))
    assert mixtures[0] == mixtures[1]
    assert math.isclose(mixtures[0][0]["web"] / mixtures[0][0]["books"], 4.0)
    for bad in (1.5, -1.0, float("nan"), "8e9"):
        with pytest.raises(mixagent.MixagentError, match="whole number of tokens"):
            mixagent.Controller("uniform", DOMAINS, total_stages=2, tokens={"web": bad})
    c = mixagent.Controller("uniform", DOMAINS, total_stages=2)
    with pytest.raises(mixagent.MixagentError, match="tokens: expected a whole number"):
        c.observe(BASE, tokens=2.5)


def test_bad_input_raises_with_what_to_fix(tmp_path):
    c = mixagent.Controller("uniform", DOMAINS, total_stages=2)
    assert not c.has_base
    with pytest.raises(mixagent.MixagentError, match="observe\\(\\) the base model"):
        c.next_mixture()
    with pytest.raises(mixagent.MixagentError, match="no feedback for field `math`"):
        c.observe({"general": -3.0})
    with pytest.raises(ValueError, match="`general` is nan|`general` is NaN"):
        c.observe({"general": float("nan"), "math": -5.0})
    c.observe(BASE)
    assert c.has_base
    with pytest.raises(mixagent.MixagentError, match="no mixture is pending"):
        c.observe(BASE)
    with pytest.raises(mixagent.MixagentError, match="unknown domain `poems`"):
        c.record({"poems": 1.0}, BASE)
    with pytest.raises(mixagent.MixagentError, match="unknown policy"):
        mixagent.Controller("regmx", DOMAINS, total_stages=2)
    with pytest.raises(mixagent.MixagentError, match="only the field `general`"):
        mixagent.Controller("uniform", [("web", "general")], total_stages=2)
    with pytest.raises(mixagent.MixagentError, match="`poems` is not one of the domains"):
        mixagent.Controller("uniform", DOMAINS, total_stages=2, tokens={"poems": 1})
    with pytest.raises(mixagent.MixagentError, match="list of \\(name, field\\) pairs"):
        mixagent.Controller("uniform", 42, total_stages=2)
    with pytest.raises(OSError, match="missing.json"):
        mixagent.Controller.from_state(tmp_path / "missing.json")
    (tmp_path / "old.json").write_text('{"format_version": 9}')
    with pytest.raises(mixagent.MixagentError, match="version 9"):
        mixagent.Controller.from_state(tmp_path / "old.json")


def agent_dir():
    d = os.environ.get("MIXAGENT_TEST_AGENT")
    if not d:
        pytest.skip("MIXAGENT_TEST_AGENT is not set (scripts/python.sh sets it)")
    return d


def test_the_agent_steers_and_agrees_with_mixagent_next(tmp_path):
    d = agent_dir()
    c = mixagent.Controller.load(d, DOMAINS, total_stages=5, tokens=TOKENS)
    assert c.policy == "agent"
    c.observe(BASE)
    first = c.next_mixture()
    c.observe(feedback_after(first, BASE), tokens=1000)
    second = c.next_mixture()
    assert math.isclose(sum(second.values()), 1.0, abs_tol=1e-9)
    # The command line (`mixagent-next`, the code of `mixagent next`) reads the same state, less
    # the pending mixture, and answers the same.
    state = json.loads(c.state_json())
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    binary = os.environ.get("MIXAGENT_BIN", "target/debug/mixagent-next")
    out = subprocess.run([binary, str(path)], capture_output=True, text=True, check=True)
    answer = json.loads(out.stdout)
    assert answer["stage"] == 1
    for name, w in second.items():
        assert math.isclose(answer["weights"][name], w, abs_tol=1e-12)
    with pytest.raises(mixagent.MixagentError, match="agent.json"):
        mixagent.Controller.load(tmp_path / "no-agent", DOMAINS, total_stages=5)


def test_the_examples_are_valid_python():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "python")
    files = sorted(f for f in os.listdir(root) if f.endswith(".py"))
    assert files, root
    for f in files:
        with open(os.path.join(root, f)) as fh:
            compile(fh.read(), f, "exec")
