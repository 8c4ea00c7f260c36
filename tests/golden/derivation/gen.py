import os
HERE = os.path.dirname(os.path.abspath(__file__))
import json, datetime as dt
BASE = dt.datetime(2026,1,5,tzinfo=dt.timezone.utc)
def T(d, hm):
    h, m = map(int, hm.split(':'))
    return BASE + dt.timedelta(days=d, hours=h, minutes=m)
def fmt(t, f):
    if f == 'unix':
        return int(t.timestamp())
    if f == 'Z':
        return t.strftime('%Y-%m-%dT%H:%M:%SZ')
    sign = 1 if f[0] == '+' else -1
    hh, mm = map(int, f[1:].split(':'))
    off = dt.timedelta(hours=hh, minutes=mm) * sign
    lt = (t + off).replace(tzinfo=None)
    return lt.strftime('%Y-%m-%dT%H:%M:%S') + f
EV = []  # (time, seq, contact, type, props, fmt, id)
def ev(c, d, hm, typ, props=None, f='Z', id=None, order=None):
    k = T(*order) if order else T(d, hm)
    EV.append([k, len(EV), c, typ, props, f, id, T(d, hm)])

exec(open(HERE + '/spec.py').read())

EV.sort(key=lambda e: (e[0], e[1]))
out = []
for k, seq, c, typ, props, f, id, t in EV:
    o = {"contact": c, "type": typ, "ts": fmt(t, f)}
    if id: o["id"] = id
    if props is not None: o["props"] = props
    out.append(json.dumps(o, ensure_ascii=False, separators=(', ', ': ')))
open(HERE + '/example.jsonl','w').write('\n'.join(out) + '\n')
print(len(out), 'lines')
