#!/usr/bin/env python3
"""Field-by-field agreement of og-extract with a reference scraper's outputs on a corpus made by
og_accuracy_prep.py; prints a Markdown table (exact, and normalised for quotes/case/URL details).

usage: og_accuracy.py <og-extract binary> [workdir, default /tmp/og-accuracy]
"""
import json, subprocess, sys, re, unicodedata
from urllib.parse import urlsplit, urlunsplit, parse_qsl, urlencode, unquote
BIN=sys.argv[1]
WORK=sys.argv[2] if len(sys.argv) > 2 else '/tmp/og-accuracy'
corpus=json.load(open(WORK + '/corpus.json'))
with open(WORK + '/list.tsv','w') as f:
    for c in corpus: f.write(f"{c['url']}\t{c['path']}\n")
out=subprocess.run([BIN,'--jsonl',WORK + '/list.tsv'],capture_output=True,text=True).stdout.splitlines()
assert len(out)==len(corpus)
FIELDS=[('title','title'),('description','description'),('image','image'),('url','url'),('author','author'),('published_time','date'),('lang','lang'),('site_name','publisher'),('favicon','logo')]
def ntext(s):
    if s is None: return None
    s=unicodedata.normalize('NFC',s)
    s=s.replace('\u2018',"'").replace('\u2019',"'").replace('\u201c','"').replace('\u201d','"')
    s=re.sub(r'\s+',' ',s).strip()
    s=re.sub(r'(\.\.\.|…)$','',s).strip()
    return s.lower()
def nurl(s):
    if s is None: return None
    try:
        p=urlsplit(s.strip())
        q=[(k,v) for k,v in parse_qsl(p.query,keep_blank_values=True) if not k.lower().startswith('utm_')]
        path=unquote(p.path).rstrip('/') or '/'
        return urlunsplit((p.scheme.lower(),p.netloc.lower().replace(':443','').replace(':80',''),path,urlencode(q),''))
    except Exception: return s
def ndate(s):
    return s[:10] if s else None
strict={f:0 for f,_ in FIELDS}; lenient={f:0 for f,_ in FIELDS}
diffs={f:[] for f,_ in FIELDS}
for c,line in zip(corpus,out):
    got=json.loads(line); exp=c['expected']
    for f,e in FIELDS:
        g=got.get(f); x=exp.get(e)
        if g==x: strict[f]+=1
        norm = nurl if f in ('image','url','favicon') else (ndate if f=='published_time' else ntext)
        if norm(g)==norm(x): lenient[f]+=1
        else: diffs[f].append((c['name'],g,x))
n=len(corpus)
print(f"pages: {n}")
print("| field | exact | normalised |\n|---|---|---|")
ts=tl=0
for f,_ in FIELDS:
    print(f"| {f} | {strict[f]/n:.1%} | {lenient[f]/n:.1%} |"); ts+=strict[f]; tl+=lenient[f]
print(f"| all | {ts/n/len(FIELDS):.1%} | {tl/n/len(FIELDS):.1%} |")
json.dump(diffs,open(WORK + '/diffs.json','w'),indent=1,ensure_ascii=False)
