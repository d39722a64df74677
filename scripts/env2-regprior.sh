#!/usr/bin/env bash
# Issue 21, the next round after scripts/env2-prior.sh, resumable: the agent whose per-domain
# prior is a regression across the collection's runs (`views.prior_from = "regression"`)
# instead of their mean in-run credit.
#
# Why: on the target model the prior agent puts 54% of its math tokens on one domain and 17%
# on math domains the relevance ablation calls unhelpful, and loses the within-field choice to
# MixMin (RESULTS.md, "Where the gap to MixMin lies"). Its credit prior ranks two unhelpful
# math domains (measurement, and licenses from the general field) among math's top five; a
# regression of the runs' final changes on their token shares ranks exactly the helpful
# domains first in each field and gives math's three helpful domains the same saturated
# evidence (docs/results/env2-regression-prior/).
#
# 1. Builds this checkout's binary (runs/env2-regprior2/mixagent), then trains the prior
#    agent's settings (runs/env2-prior/selection.json) with the regression prior on the same
#    384 trajectories (runs/collect-env2) -> runs/env2-regprior2/agent, and its κ = 1 copy
#    (agent-t1, as the prior agent's).
# 2. The held-out probe, experiments/env2/regprior-probe.toml -> runs/env2-curve, beside the
#    curve's finished agent-t1, uniform and MixMin runs on seeds 100-102 (reused).
#
# The first version of the regression prior (each standard score clipped to ±3, commit 76f2eee)
# is runs/env2-regprior; this script trains the second (scaled by the field's strongest score).
#
#   bash scripts/env2-regprior.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env2-agent.sh
needs env2-regprior runs/env2-prior/selection.json runs/collect-env2
private_binary runs/env2-regprior2
train_selected runs/env2-regprior2/agent 'views.prior_from="regression"'
with_decision runs/env2-regprior2/agent runs/env2-regprior2/agent-t1 tilt 1.0
# ENV2_PROBES=0 (scripts/study-env2.sh's rebuild after a lost runs/) skips the probe, which
# chooses nothing any more: its table is committed (RESULTS.md).
[ "${ENV2_PROBES:-1}" = 0 ] || $bin compare --config experiments/env2/regprior-probe.toml --out runs/env2-curve --workers "${WORKERS:-2}"
