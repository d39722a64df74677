import glob, json, os, sys, statistics as st, math
T={2:4.303,3:3.182,4:2.776,5:2.571}
def load(d):
    out={}
    for p in glob.glob(os.path.join(d,'runs','*','seed-*','run.json')):
        r=json.load(open(p))
        if len(r['stages'])<r['config']['stages']: continue
        fields=[]
        for e in r['space']:
            if e['field'] not in fields: fields.append(e['field'])
        o=r['stages'][-1]['observation']; b=r['initial']
        d_={f:(o['feedback'][f]-b['feedback'][f])/abs(b['feedback'][f]) for f in fields}
        d_['balanced']=sum(d_[f] for f in fields)/len(fields)
        pol=p.split('/runs/')[-1].split('/')[0]
        out.setdefault(pol,{})[r['seed'] if 'seed' in r else p.split('seed-')[-1].split('/')[0]]=d_
    return out
d=sys.argv[1]; runs=load(d)
pols=sorted(runs); uni=[p for p in pols if p.startswith('uniform')][0]
for p in pols:
    if p==uni: continue
    seeds=sorted(set(runs[p])&set(runs[uni]))
    for k in ['general','math','balanced']:
        diffs=[runs[p][s][k]-runs[uni][s][k] for s in seeds]
        n=len(diffs); m=st.mean(diffs); sd=st.stdev(diffs) if n>1 else float('nan')
        print(f"{p[:40]:40s} {k:9s} n={n} diff {m:+.4f} sd {sd:.4f} ratio {m/sd:5.1f}  uniform gain {st.mean(runs[uni][s][k] for s in seeds):+.4f}")
