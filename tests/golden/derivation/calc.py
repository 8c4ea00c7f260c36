import os
HERE = os.path.dirname(os.path.abspath(__file__))
# Arithmetic only: worth = p * 2^(-(T-t)/half_life), group caps, rounding,
# tiers with hysteresis, over the hand-derived inputs in awards.py.
import json, sys, datetime as dt, math
exec(open(HERE + '/awards.py').read())
BASE = dt.datetime(2026,1,5,tzinfo=dt.timezone.utc)
def ms(d, hm):
    h, m = map(int, hm.split(':'))
    return int((BASE + dt.timedelta(days=d, hours=h, minutes=m)).timestamp() * 1000)
def parse_ts(v):
    if isinstance(v, (int, float)): return int(round(v * 1000))
    return int(dt.datetime.fromisoformat(v.replace('Z', '+00:00')).timestamp() * 1000)
HL = 30 * 86400000
GROUP = lambda r: 'disqualifiers' if r in ('competitor','unsubscribed','hard-bounce') else None
MAX = {'fit': 35, 'engagement': 60}
TIERS = [('cold', 0), ('mql', 40), ('sql', 70)]; H = 5
def num2(v):
    s = '%.2f' % (round(v * 100.0) / 100.0)
    s = s.rstrip('0').rstrip('.') if '.' in s else s
    return '0' if s == '-0' else s
def evaluate(c, T, born, strict=False):
    fit = {}
    for d, hm, rules in FIT.get(c, []):
        if born <= ms(d, hm) <= T and not (strict and ms(d, hm) == T): fit = rules
    aw = [(r, p, ms(d, hm)) for r, p, d, hm in AW.get(c, []) if born <= ms(d, hm) <= T and not (strict and ms(d, hm) == T)]
    g = {'fit': 0.0, 'engagement': 0.0, 'disqualifiers': 0.0}
    rules = {}
    for r, p in fit.items():
        g[GROUP(r) or 'fit'] += p; rules[r] = [p, None]
    for r, p, t in aw:
        grp = GROUP(r) or 'engagement'
        w = p * 2 ** (-(T - t) / HL) if grp == 'engagement' and T >= t else p
        g[grp] += w
        rules.setdefault(r, [0.0, 0]); rules[r][0] += w; rules[r][1] += 1
    contrib = {k: (min(v, MAX[k]) if k in MAX else v) for k, v in g.items()}
    S = sum(contrib.values())
    score = max(0, min(100, math.floor(S + 0.5)))
    return S, score, g, contrib, rules
def tier_of(score, prev):
    comp = [n for n, m in TIERS if m <= score][-1]
    if prev is None: return comp
    pi = [n for n, _ in TIERS].index(prev); ci = [n for n, _ in TIERS].index(comp)
    if ci < pi and score >= TIERS[pi][1] - H: return prev
    return comp
def iso(t):
    return dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
lines = [json.loads(l) for l in open(sys.argv[1])]
asof = parse_ts(sys.argv[2]) if len(sys.argv) > 2 else None
seen = set(); clock = None; st = {}; trans = []; trace = {}
for i, e in enumerate(lines, 1):
    if 'id' in e:
        if e['id'] in seen: trace.setdefault(e['contact'], []).append((i, 'DUP')); continue
        seen.add(e['id'])
    t = parse_ts(e['ts']); clock = t if clock is None else max(clock, t)
    c = e['contact']
    if e['type'] == 'contact.deleted':
        st.pop(c, None); trace.setdefault(c, []).append((i, 'deleted')); continue
    if c not in st: st[c] = {'born': t, 'tier': None}
    elif st[c]['tier'] is not None:
        Sp, sp, *_ = evaluate(c, clock, st[c]['born'], strict=True)
        if tier_of(sp, st[c]['tier']) != st[c]['tier']:
            print('WARNING: decay crossing before line', i, c, sp, st[c]['tier'])
    S, score, g, contrib, rules = evaluate(c, clock, st[c]['born'])
    nt = tier_of(score, st[c]['tier'])
    trace.setdefault(c, []).append((i, iso(clock), e['type'], round(S, 4), score, nt))
    if nt != st[c]['tier']:
        trans.append({"contact": c, "model": "b2b-saas", "from": st[c]['tier'], "to": nt, "score": score, "at": iso(clock)})
        st[c]['tier'] = nt
T = asof if asof is not None else clock
out = []
for c in sorted(st):
    S, score, g, contrib, rules = evaluate(c, T, st[c]['born'])
    nt = tier_of(score, st[c]['tier'])
    if nt != st[c]['tier']:
        print('WARNING: final transition', c)
        trans.append({"contact": c, "model": "b2b-saas", "from": st[c]['tier'], "to": nt, "score": score, "at": iso(T)})
        st[c]['tier'] = nt
    top = sorted(rules.items(), key=lambda kv: (-abs(kv[1][0]), kv[0]))
    o = '{"contact":"%s","score":%d,"tier":"%s","groups":{%s},"top":[%s]}' % (
        c, score, nt, ','.join('"%s":%s' % (k, num2(contrib[k])) for k in ('fit','engagement','disqualifiers')),
        ','.join('{"rule":"%s","points":%s%s}' % (r, num2(v[0]), '' if v[1] is None else ',"awards":%d' % v[1]) for r, v in top))
    out.append(o)
    trace.setdefault(c, []).append(('final', iso(T), round(S, 6), score, nt, {k: round(v, 6) for k, v in g.items()},
                                    {r: (round(v[0], 6), v[1]) for r, v in rules.items()}))
open(sys.argv[3] if len(sys.argv) > 3 else HERE + '/out.jsonl', 'w').write('\n'.join(out) + '\n')
open((sys.argv[3] if len(sys.argv) > 3 else HERE + '/out.jsonl') + '.trans', 'w').write(
    '\n'.join(json.dumps(x, separators=(',', ':')) for x in trans) + '\n')
json.dump({k: v for k, v in trace.items()}, open(HERE + '/trace.json', 'w'), indent=0)
