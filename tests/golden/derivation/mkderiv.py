import os
HERE = os.path.dirname(os.path.abspath(__file__))
import json
exec(open(HERE + '/notes.py').read())
tr = json.load(open(HERE + '/trace.json'))
num = open(HERE + '/numbers.txt').read().split('## ')[1:]
nums = {b.split('\n', 1)[0]: b.split('\n', 1)[1] for b in num}
out = [open(HERE + '/head.md').read()]
for c in sorted(tr):
    out.append('### %s\n\n%s\n' % (c, N[c]))
    lines = []
    for l in nums[c].splitlines():
        if l.startswith('  line'):
            lines.append(l.rstrip())
        else:
            lines.append(l.rstrip())
    # keep only the rows that matter: non-browsing events, awards, final
    keep = []
    rows = tr[c]
    for r in rows:
        if r[0] == 'final' or (len(r) > 2 and r[1] in ('DUP', 'deleted')):
            continue
    out.append('```\n' + '\n'.join(lines) + '\n```\n')
open(HERE + '/../DERIVATION.md', 'w').write('\n'.join(out))
