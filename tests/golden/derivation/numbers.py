import os
HERE = os.path.dirname(os.path.abspath(__file__))
import json, datetime as dt
exec(open(HERE + '/awards.py').read())
BASE = dt.datetime(2026,1,5,tzinfo=dt.timezone.utc)
T = BASE + dt.timedelta(days=56, hours=12)
tr = json.load(open(HERE + '/trace.json'))
def dd(d, hm):
    h, m = map(int, hm.split(':')); return d + h/24 + m/1440
for c in sorted(tr):
    print('##', c)
    rows = tr[c]
    for r in rows:
        if r[0] == 'final':
            print('final S=%.4f score=%d tier=%s raw=%s' % (r[2], r[3], r[4], r[5]))
        elif r[1] == 'DUP': print('  line', r[0], 'duplicate id: ignored')
        elif r[1] == 'deleted': print('  line', r[0], 'deleted')
        else: print('  line %d %s %-16s S=%.2f score=%d tier=%s' % tuple(r))
    for rule, p, d, hm in AW.get(c, []):
        if rule in ('unsubscribed', 'hard-bounce'): print('   award %s %g d%s no decay' % (rule, p, d)); continue
        if (c == 'c08' and d < 14) or c == 'c09':
            print('   award %-16s %3g at d%02d %s  erased by the deletion' % (rule, p, d, hm)); continue
        age = 56.5 - dd(d, hm)
        print('   award %-16s %3g at d%02d %s age %.4f d  f=2^(-%.4f/30)=%.6f worth %.4f' % (rule, p, d, hm, age, age, 2**(-age/30), p*2**(-age/30)))
