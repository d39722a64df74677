import json,glob,os,sys,statistics as st
root=sys.argv[1]
base=json.load(open(f'{root}/base-final-feedback-1024.json'))
b={f['field']:f['feedback'] for f in base['feedback']}
rows={}
for p in glob.glob(f'{root}/runs/*/seed-*/final-feedback-1024.json'):
    d=os.path.dirname(p)
    pol=json.load(open(d+'/run.json'))['policy']
    pol=os.path.basename(pol).rsplit('-',1)[0] if '/' in pol else pol
    seed=int(d.split('seed-')[1])
    r={f['field']:f['feedback'] for f in json.load(open(p))['feedback']}
    rel={k:(r[k]-b[k])/abs(b[k]) for k in b}
    rows.setdefault(pol,{})[seed]=(rel['general'],rel['math'],(rel['general']+rel['math'])/2)
u=rows.get('uniform',{})
for pol,d in sorted(rows.items(), key=lambda kv:-st.mean(v[2] for v in kv[1].values())):
    bal=[d[s][2] for s in sorted(d)]
    diff=[d[s][2]-u[s][2] for s in d if s in u]
    ds=f" vs uniform {st.mean(diff):+.4f} sd {st.stdev(diff):.4f}" if len(diff)>1 else ""
    print(f"{pol:24s} n={len(d)} bal={st.mean(bal):+.4f} gen={st.mean(d[s][0] for s in d):+.4f} math={st.mean(d[s][1] for s in d):+.4f}{ds}")
