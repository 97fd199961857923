#!/usr/bin/env python3
"""Builds an accuracy corpus from a checkout of microlinkhq/metascraper (its integration pages and
snapshot outputs), for bench/og_accuracy.py. Nothing it reads is committed here.

usage: og_accuracy_prep.py <metascraper git dir> [workdir, default /tmp/og-accuracy]
"""
import subprocess, re, json, os, sys
repo=sys.argv[1]
WORK=sys.argv[2] if len(sys.argv) > 2 else '/tmp/og-accuracy'
os.makedirs(WORK + '/pages', exist_ok=True)
def show(p): return subprocess.run(['git','-C',repo,'show','HEAD:'+p],capture_output=True).stdout
files=subprocess.run(['git','-C',repo,'ls-tree','-r','--name-only','HEAD','packages/metascraper/test/integration/'],capture_output=True,text=True).stdout.split()
names=sorted({f.split('/')[4] for f in files})
out=[]
def parse_val(v):
    v=v.strip().rstrip(',')
    if v=='null' or v=='undefined': return None
    if v.startswith("'") and v.endswith("'"):
        s=v[1:-1]
        return s.encode('utf-8').decode('unicode_escape').encode('latin1').decode('utf-8') if '\\' in s else s
    if v.startswith('`'): return v.strip('`').replace('␊\n','\n')
    try: return json.loads(v)
    except: return v
for n in names:
    d=f'packages/metascraper/test/integration/{n}'
    js=show(d+'/index.js').decode()
    m=re.search(r"const url\s*=\s*\n?\s*'([^']+)'",js)
    md=show(d+'/snapshots/index.js.md').decode()
    html_files=[f for f in files if f.startswith(d+'/') and f.endswith('.html')]
    if not m or not md or len(html_files)!=1: print('skip',n,file=sys.stderr); continue
    exp={}
    # first snapshot object
    body=md.split('> Snapshot 1',1)[1]
    for line in body.split('\n'):
        mm=re.match(r"^\s{6}(\w+): (.*)$",line)
        if mm: exp[mm.group(1)]=parse_val(mm.group(2))
        if line.strip()=='}': break
    path=f'{WORK}/pages/{n}.html'
    open(path,'wb').write(show(html_files[0]))
    out.append({'name':n,'url':m.group(1),'path':path,'expected':exp})
json.dump(out,open(WORK + '/corpus.json','w'),indent=1,ensure_ascii=False)
print(len(out))
