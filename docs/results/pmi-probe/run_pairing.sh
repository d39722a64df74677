# The confirmation models of compare-confirm.toml and their base, scored on the corpus with
# pairing math feedback (all 1,024 items a field), for the G2 feedback figure under it:
#   mixagent prepare --config configs/default.toml --out data/v2-pairing
R=~/.cache/mixagent/persist/runs; C=$R/v2w/pmi/confirm/runs; O=$R/v2w/pmi/pairing
B=${MIXAGENT:-mixagent}
mkdir -p $O
score() { [ -f $O/$2.json ] || $B eval $1 --suite feedback --corpus data/v2-pairing --fields general,math --items 1024 --windows 1 --json $O/$2.json --threads 2 >/dev/null 2>&1; }
score $R/demo-v2/target base
for p in uniform helpful-pmi; do
  for s in 100 101 102 103 104; do score $C/schedule_docs_results_pmi-probe_$p.json/seed-$s $p-$s; done
done
