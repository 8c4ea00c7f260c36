C, U, D = 'contact.created', 'contact.updated', 'contact.deleted'
def nl(c, d, hm, f='Z'):      # newsletter open
    ev(c, d, hm, 'email_open', {"campaign": "newsletter-w%02d" % (d // 7 + 2)}, f)
def blog(c, d, hm, path, f='Z'):
    ev(c, d, hm, 'page_view', {"url": "/blog/" + path}, f)

# c01 Ana: enterprise CEO, fit capped, webinar -> mql, demo+pricing -> sql
ev('c01', 0, '09:00', C, {"email": "ana.lima@northwind-logistics.com", "first_name": "Ana", "job_title": "Chief Executive Officer", "company_size": 5000, "country": "US", "industry": "Software"}, id='hs-1001')
nl('c01', 1, '10:15')
blog('c01', 12, '16:40', 'why-lead-scoring')
ev('c01', 40, '10:00', 'webinar_attended', {"webinar": "scoring-101"})
ev('c01', 47, '15:00', 'webinar_attended', {"webinar": "scoring-201"})
ev('c01', 53, '11:00', 'form_submit', {"form": "demo"})
ev('c01', 53, '11:30', 'page_view', {"url": "/pricing"})
ev('c01', 55, '09:00', 'page_view', {"url": "/pricing/enterprise"})
blog('c01', 56, '12:00', 'lead-scoring-guide')

# c02 Bruno: student on gmail, clamps to 0
ev('c02', 1, '08:00', C, {"email": "bruno.costa@gmail.com", "job_title": "MBA Student", "country": "PT"}, '+01:00')
nl('c02', 1, '08:30', '+01:00')
nl('c02', 8, '08:00', '+01:00')
nl('c02', 8, '17:00', '+01:00')
nl('c02', 15, '08:00', '+01:00')
ev('c02', 15, '08:05', 'email_click', {"url": "https://example.com/guide"}, '+01:00')

# c03 Carla: numeric string size, title update, null removes industry, download cap, pricing cap
ev('c03', 2, '14:00', C, {"email": "carla.mendes@finbridge.de", "job_title": "Director of Marketing", "company_size": "250", "country": "de", "industry": "fintech"}, '+01:00')
ev('c03', 9, '10:00', U, {"job_title": "VP Marketing"}, '+01:00')
ev('c03', 20, '16:00', U, {"industry": None, "phone": "+49 30 1234567"}, '+01:00')
ev('c03', 21, '09:00', 'download', {"asset_type": "whitepaper", "asset": "state-of-b2b-2026"}, '+01:00')
ev('c03', 22, '09:00', 'download', {"asset_type": "ebook", "asset": "scoring-playbook"}, '+01:00')
ev('c03', 23, '09:00', 'download', {"asset_type": "report", "asset": "benchmarks-q4"}, '+01:00')
ev('c03', 30, '12:00', 'email_click', {"url": "https://example.com/playbook"}, '+01:00')
ev('c03', 44, '10:00', 'page_view', {"url": "/pricing"}, '+01:00')
ev('c03', 44, '10:05', 'page_view', {"url": "/pricing"}, '+01:00')
ev('c03', 45, '16:00', 'page_view', {"url": "/pricing/compare"}, '+01:00')
ev('c03', 46, '11:00', 'page_view', {"url": "/pricing"}, '+01:00')

# c04 Dmitri: fit only, Unix-seconds timestamps, page views that match no rule
ev('c04', 3, '08:00', C, {"email": "dmitri.volkov@freightly.co.uk", "job_title": "Head of Operations", "company_size": 120, "country": "GB", "industry": "Logistics"}, 'unix')
blog('c04', 3, '08:10', 'freight-automation', 'unix')
blog('c04', 10, '12:00', 'crm-hygiene', 'unix')
ev('c04', 24, '15:00', 'page_view', {"url": "/careers"}, 'unix')

# c05 Elena: trial, reply, demo -> sql; unsubscribe drops straight to cold
ev('c05', 3, '10:00', C, {"email": "elena.visser@tulpdata.nl", "job_title": "Founder & CEO", "company_size": 45, "country": "NL", "industry": "SaaS"}, '+01:00')
ev('c05', 10, '09:00', 'trial_started', {"plan": "team"}, '+01:00')
ev('c05', 11, '14:00', 'email_reply', {"thread": "onboarding"}, '+01:00')
ev('c05', 12, '10:00', 'form_submit', {"form": "demo"}, '+01:00')
ev('c05', 22, '08:00', 'unsubscribe', {"list": "all"}, '+01:00')
ev('c05', 35, '10:00', 'page_view', {"url": "/docs/getting-started"}, '+01:00')

# c06 Farid: weekly opens, webinar -> mql, decays to 37: held by hysteresis
ev('c06', 0, '15:00', C, {"email": "farid.haddad@maplecloud.ca", "job_title": "Marketing Manager", "company_size": 300, "country": "CA", "industry": "saas"}, '-05:00')
for d in (1, 8, 15, 22):
    nl('c06', d, '14:00', '-05:00')
ev('c06', 35, '17:00', 'webinar_attended', {"webinar": "scoring-101"}, '-05:00')
blog('c06', 50, '15:00', 'hysteresis-explained', '-05:00')

# c07 Greta: competitor domain, strong fit, clamps to 0
ev('c07', 4, '12:00', C, {"email": "greta.lund@rivalscore.io", "job_title": "VP Growth", "company_size": 80, "country": "US", "industry": "software"})
ev('c07', 20, '13:00', 'download', {"asset_type": "whitepaper", "asset": "state-of-b2b-2026"})
ev('c07', 21, '13:00', 'page_view', {"url": "/pricing"})

# c08 Hiro: deleted, then re-created from nothing (webinar once resets)
ev('c08', 4, '01:00', C, {"email": "hiro.tanaka@kaito.jp", "job_title": "Engineering Manager", "company_size": 2000, "country": "JP"}, '+09:00')
ev('c08', 6, '03:00', 'webinar_attended', {"webinar": "scoring-101"}, '+09:00')
ev('c08', 14, '02:00', D, None, '+09:00')
ev('c08', 30, '01:00', C, {"email": "hiro.tanaka@kaito.jp", "job_title": "Director of Engineering", "company_size": 2000, "country": "US"}, '+09:00')
nl('c08', 31, '00:30', '+09:00')
nl('c08', 31, '06:00', '+09:00')
ev('c08', 40, '09:00', 'webinar_attended', {"webinar": "scoring-201"}, '+09:00')

# c09 Ines: deleted and never re-created: not in the output
ev('c09', 2, '10:00', C, {"email": "ines.moreau@papeterie.fr", "job_title": "Buyer", "company_size": 25, "country": "FR"})
nl('c09', 8, '10:00')
ev('c09', 20, '10:00', D)

# c10 Jonas: never created, activities only; open and docs cooldowns
nl('c10', 3, '09:00', 'unix')
nl('c10', 3, '15:00', 'unix')
nl('c10', 4, '12:00', 'unix')
ev('c10', 5, '10:00', 'page_view', {"url": "/docs/api"}, 'unix')
ev('c10', 5, '15:00', 'page_view', {"url": "/docs/sdk"}, 'unix')
ev('c10', 6, '09:00', 'page_view', {"url": "/docs"}, 'unix')

# c11 Kara: burst of engagement, click max_awards, engagement cap 60 -> sql
ev('c11', 45, '10:00', C, {"email": "kara.nguyen@payflow.fr", "job_title": "Chief Revenue Officer", "company_size": 650, "country": "FR", "industry": "fintech"}, '+01:00')
ev('c11', 46, '09:00', 'trial_started', {"plan": "business"}, '+01:00')
ev('c11', 47, '11:00', 'form_submit', {"form": "demo"}, '+01:00')
ev('c11', 48, '16:00', 'webinar_attended', {"webinar": "scoring-201"}, '+01:00')
ev('c11', 49, '10:00', 'email_reply', {"thread": "demo-followup"}, '+01:00')
for i in range(6):
    ev('c11', 50, '09:%02d' % (i * 10), 'email_click', {"url": "https://example.com/case-study-%d" % (i + 1)}, '+01:00')
ev('c11', 51, '14:00', 'page_view', {"url": "/pricing"}, '+01:00')
ev('c11', 51, '14:10', 'page_view', {"url": "/pricing/enterprise"}, '+01:00')

# c12 Liam: micro company, soft then hard bounce (once)
ev('c12', 10, '15:00', C, {"email": "liam.oconnor@tinyco.com", "job_title": "Office Manager", "company_size": 5, "country": "US"})
ev('c12', 11, '15:00', 'email_bounce', {"bounce": "soft"})
ev('c12', 12, '15:00', 'email_bounce', {"bounce": "hard"})
ev('c12', 13, '15:00', 'email_bounce', {"bounce": "hard"})

# c13 Maya: the reply is delivered twice with the same id
ev('c13', 5, '17:00', C, {"email": "maya.patel@cloudnine.com", "job_title": "VP Sales", "company_size": 1500, "country": "US", "industry": "software"}, '-08:00', id='hs-1013')
ev('c13', 25, '18:00', 'email_reply', {"thread": "intro"}, '-08:00', id='mc-7001')
ev('c13', 25, '18:00', 'email_reply', {"thread": "intro"}, '-08:00', id='mc-7001', order=(25, '19:30'))
ev('c13', 38, '19:00', 'email_click', {"url": "https://example.com/roi"}, '-08:00')

# c14 Noah: mql, then a title and size change drops him to cold (not held)
ev('c14', 6, '14:00', C, {"email": "noah.becker@northpeak.com", "job_title": "Head of IT", "company_size": 900, "country": "US", "industry": "software"})
ev('c14', 20, '16:00', 'webinar_attended', {"webinar": "scoring-101"})
ev('c14', 21, '10:00', 'email_reply', {"thread": "webinar-followup"})
ev('c14', 35, '09:00', U, {"job_title": "Consultant", "company_size": 8})

# c15 Olivia: mql; losing the industry fit puts her at 38: held by hysteresis
ev('c15', 7, '11:00', C, {"email": "olivia.wright@ledgerly.co.uk", "job_title": "Director of Finance", "company_size": 400, "country": "GB", "industry": "fintech"})
ev('c15', 44, '10:00', 'form_submit', {"form": "contact"})
ev('c15', 44, '10:30', 'download', {"asset_type": "ebook", "asset": "scoring-playbook"})
ev('c15', 46, '09:00', 'email_click', {"url": "https://example.com/playbook"})
ev('c15', 47, '09:00', 'email_click', {"url": "https://example.com/pricing"})
ev('c15', 50, '12:00', U, {"industry": "Retail"})

# c16 Pablo: "1,200" is not a number; "1200" is
ev('c16', 12, '10:00', C, {"email": "pablo.ruiz@grupo-iberia.es", "job_title": "Procurement Manager", "company_size": "1,200", "country": "ES"}, '+01:00')
ev('c16', 30, '11:00', U, {"company_size": "1200"}, '+01:00')
nl('c16', 31, '11:00', '+01:00')

# c17 Quinn: e-mail open cooldown 1d and docs cooldown 12h, one exact 24h
ev('c17', 0, '10:00', C, {"email": "quinn.adams@stackly.io", "job_title": "Product Manager", "company_size": 60, "country": "US", "industry": "saas"})
for d, hm in ((0, '10:30'), (0, '20:00'), (1, '09:00'), (1, '10:30'), (2, '10:00'),
              (3, '08:00'), (3, '20:00'), (4, '07:59'), (4, '09:00')):
    nl('c17', d, hm)
ev('c17', 10, '10:00', 'page_view', {"url": "/docs/quickstart"})
ev('c17', 10, '21:00', 'page_view', {"url": "/docs/api"})
ev('c17', 11, '09:00', 'page_view', {"url": "/docs/webhooks"})
blog('c17', 11, '09:20', 'scoring-models')

# c18 Rosa: Unix seconds throughout; trial -> mql, weekly opens keep her there
ev('c18', 15, '09:00', C, {"email": "rosa.klein@datawerk.de", "job_title": "Head of Data", "company_size": 75, "country": "DE", "industry": "software"}, 'unix')
ev('c18', 16, '10:00', 'trial_started', {"plan": "team"}, 'unix')
for d in (20, 27, 34, 41, 48, 55):
    nl('c18', d, '08:00', 'unix')

# c19 Sam: free mail and micro company, but trial and demo -> mql
ev('c19', 30, '09:00', C, {"email": "sam.okoro@outlook.com", "job_title": "Founder", "company_size": 3, "country": "NG"}, '+01:00')
ev('c19', 49, '10:00', 'page_view', {"url": "/docs/install"}, '+01:00')
ev('c19', 49, '13:00', 'page_view', {"url": "/docs/api"}, '+01:00')
ev('c19', 50, '09:00', 'page_view', {"url": "/docs/api"}, '+01:00')
ev('c19', 50, '09:30', 'trial_started', {"plan": "starter"}, '+01:00')
ev('c19', 51, '15:00', 'form_submit', {"form": "demo"}, '+01:00')

# c20 Tara: sql, decays to 67: held by hysteresis
ev('c20', 8, '16:00', C, {"email": "tara.singh@globex-analytics.com", "job_title": "VP Customer Success", "company_size": 12000, "country": "US", "industry": "software"})
ev('c20', 40, '16:00', 'webinar_attended', {"webinar": "scoring-101"})
ev('c20', 42, '15:00', 'form_submit', {"form": "demo"})
ev('c20', 43, '10:00', 'page_view', {"url": "/pricing"})

# c21 Uma: sql, then a title change drops her to mql (not held)
ev('c21', 2, '15:00', C, {"email": "uma.reddy@vertexhealth.com", "job_title": "SVP Operations", "company_size": 3000, "country": "US", "industry": "Healthcare"}, '-06:00')
ev('c21', 36, '15:00', 'webinar_attended', {"webinar": "scoring-201"}, '-06:00')
ev('c21', 37, '16:00', 'form_submit', {"form": "demo"}, '-06:00')
ev('c21', 38, '15:00', 'email_reply', {"thread": "demo-followup"}, '-06:00')
ev('c21', 52, '15:00', U, {"job_title": "Advisor"}, '-06:00')

# c22 Victor: weekly newsletter opens and clicks; clicks capped at 5 awards
ev('c22', 0, '12:00', C, {"email": "victor.hale@brightpath.com", "job_title": "Sales Director", "company_size": 40, "country": "US"})
for d in (1, 8, 15, 22, 29, 36, 43, 50):
    nl('c22', d, '12:00')
for d in (1, 8, 15, 22, 29, 36, 43):
    ev('c22', d, '12:05', 'email_click', {"url": "https://example.com/newsletter-w%02d" % (d // 7 + 2)})

# c23 Wen: form-fill cooldown 7d; forms and assets that match no rule
ev('c23', 9, '02:00', C, {"email": "wen.li@jadeharbor.cn", "job_title": "Marketing Director", "company_size": 200, "country": "CN"}, '+08:00')
ev('c23', 10, '02:00', 'form_submit', {"form": "contact"}, '+08:00')
ev('c23', 14, '02:00', 'form_submit', {"form": "newsletter"}, '+08:00')
ev('c23', 18, '02:00', 'form_submit', {"form": "event"}, '+08:00')
ev('c23', 19, '02:00', 'form_submit', {"form": "survey"}, '+08:00')
ev('c23', 25, '02:00', 'download', {"asset_type": "case-study", "asset": "jade-harbor"}, '+08:00')

# c24 Xavier: top fit, barely engaged: cold
ev('c24', 5, '14:00', C, {"email": "xavier.dupont@megacorp.com", "job_title": "VP Engineering", "company_size": 10000, "country": "US", "industry": "software"}, '-05:00')
nl('c24', 6, '14:00', '-05:00')
nl('c24', 13, '14:00', '-05:00')

# c25 Yara: free mail replaced by a company address, then the title removed
ev('c25', 6, '09:00', C, {"email": "yara.benali@yahoo.com", "job_title": "Operations Manager", "company_size": 55, "country": "FR"}, '+01:00')
ev('c25', 28, '09:00', U, {"email": "yara.benali@maison-lumiere.fr"}, '+01:00')
ev('c25', 29, '09:00', U, {"job_title": None}, '+01:00')

# c26 Zoe: webinar once out of three
ev('c26', 9, '10:00', C, {"email": "zoe.clarke@brightledger.co.uk", "job_title": "Chief Financial Officer", "company_size": 1100, "country": "GB", "industry": "saas"})
for d in (30, 37, 44):
    ev('c26', d, '15:00', 'webinar_attended', {"webinar": "series-%d" % d})

# c27 Ahmed: three replies a week apart -> mql, decays into the hysteresis band
ev('c27', 11, '06:00', C, {"email": "ahmed.alsayed@gulfgrid.ae", "job_title": "Head of Procurement", "company_size": 500, "country": "AE"}, '+04:00')
for d in (33, 40, 47):
    ev('c27', d, '06:00', 'email_reply', {"thread": "rfp"}, '+04:00')

# c28 Carlos: engineer on gmail
ev('c28', 14, '13:00', C, {"email": "carlos.silva@gmail.com", "job_title": "Software Engineer", "company_size": 30, "country": "BR"}, '-03:00')
blog('c28', 14, '13:30', 'scoring-models', '-03:00')

# c29 Dana: intern at an enterprise, hotmail
ev('c29', 17, '10:00', C, {"email": "dana.kim@hotmail.com", "job_title": "Marketing Intern", "company_size": 15000, "country": "US"})
nl('c29', 22, '10:00')

# c30 Eli: anonymous pricing views (max 3 awards), identified later
ev('c30', 20, '10:00', 'page_view', {"url": "/pricing"})
ev('c30', 20, '10:02', 'page_view', {"url": "/pricing/faq"})
ev('c30', 21, '11:00', 'page_view', {"url": "/pricing"})
ev('c30', 22, '12:00', 'page_view', {"url": "/pricing"})
ev('c30', 23, '09:00', 'page_view', {"url": "/pricing/enterprise"})
ev('c30', 24, '09:00', 'page_view', {"url": "/docs"})
ev('c30', 25, '09:00', C, {"email": "eli.cohen@quantleaf.com", "job_title": "Head of Sales Ops", "company_size": 350, "country": "US", "industry": "software"})

# c31 Fay and c32 Gus: size boundaries (1000 is enterprise, 50 is mid)
ev('c31', 13, '11:00', C, {"email": "fay.jansen@polderbank.nl", "job_title": "IT Director", "company_size": 1000, "country": "NL"}, '+01:00')
ev('c32', 13, '12:00', C, {"email": "gus.miller@smallbatch.com", "job_title": "Growth Manager", "company_size": 50, "country": "US"})

# Browsing that matches no rule (blog, home page, videos): it moves the
# stream clock and re-evaluates tiers, but awards nothing.
import random
_r = random.Random(2026)
_first = {'c01': 0, 'c02': 1, 'c03': 2, 'c04': 3, 'c05': 3, 'c06': 0, 'c07': 4,
          'c10': 3, 'c11': 45, 'c12': 10, 'c13': 5, 'c14': 6, 'c15': 7, 'c16': 12,
          'c17': 0, 'c18': 15, 'c19': 30, 'c20': 8, 'c21': 2, 'c22': 0, 'c23': 9,
          'c24': 5, 'c25': 6, 'c26': 9, 'c27': 11, 'c28': 14, 'c29': 17, 'c30': 25,
          'c31': 13, 'c32': 13}
_paths = ['/blog/intent-data', '/blog/mql-vs-sql', '/', '/customers', '/integrations/hubspot',
          '/blog/decay-explained', '/about', '/integrations/mailchimp']
for _i in range(70):
    _c = _r.choice(sorted(_first))
    _d = _r.randint(_first[_c] + 1, 55)
    _hm = '%02d:%02d' % (_r.randint(0, 23), _r.randint(0, 59))
    if _r.random() < 0.2:
        ev(_c, _d, _hm, 'video_play', {"video": "product-tour"})
    else:
        ev(_c, _d, _hm, 'page_view', {"url": _r.choice(_paths)})
