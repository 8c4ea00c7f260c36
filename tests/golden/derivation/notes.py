N = {
'c01': """Fit: "Chief Executive Officer" contains "chief" -> title-exec 15 (no manager keyword); 5000 >= 1000 -> size-enterprise 15; US -> 5; "Software" = "software" ignoring case -> 5. Raw fit 40, capped at 35.
Awards: open d1 (first, +1). Webinar d40 +12 (first). Webinar d47: `once` -> refused. Demo form d53 11:00 +25 (first). /pricing d53 11:30 and /pricing/enterprise d55: pricing awards 1 and 2 of 3. The other page views (/blog, /, /about, ...) match no rule.
Tiers: 35 cold (null->cold); webinar d40: 35+12 = 47 -> mql; demo d53: 69.18 -> 69, still mql; pricing 30 min later: 77.16 -> sql. Never falls: sql from d53 on.""",
'c02': """Fit: "MBA Student" -> title-student -10; gmail.com -> free-mail -10; PT not a target; no size. Fit -20 (a max only caps from above).
Awards: opens d1 08:30 (+1), d8 08:00 (6d23h30 later, +1), d8 17:00 (9h after the last award: cooldown, refused), d15 08:00 (+1); click d15 (+3).
Score: S < 0 always -> clamped to 0, cold from the start. top: free-mail and title-student tie at |10|, by rule id.""",
'c03': """Fit: created as "Director of Marketing" (title-manager 8), company_size "250" (a string that parses fully as a number -> size-mid 10), country "de" (ignoring case = "DE", 5), fintech 5: 28. d9 update job_title "VP Marketing": title-exec 15 replaces title-manager -> 35. d20 update industry null removes the property -> industry-fit no longer holds -> 30 (phone is not used).
Awards: downloads d21 whitepaper +6, d22 ebook +6, d23 report refused (max_awards 2). Click d30 +3. /pricing d44 10:00 +8, /pricing d44 10:05 +8, /pricing/compare d45 +8 (3 of 3), /pricing d46 refused.
Tiers: cold until the d22 ebook: 30 + 6*2^(-1/30) + 6 = 41.86 -> 42 mql. Lowest point later: just before the d30 click, about 39.8 -> 40 (>= 35, stays mql).""",
'c04': """Fit: "Head of Operations" -> title-manager 8; 120 -> size-mid 10; GB 5; Logistics not a target. 23. Unix-seconds timestamps. Only page views of /blog and /careers: no rule. Score 23 cold throughout.""",
'c05': """Fit: "Founder & CEO" -> title-exec 15 (once, though two keywords match); 45 employees: no size rule (between is 50..999, micro is < 10); NL 5; SaaS 5: 25.
Awards: trial d10 +20, reply d11 +10, demo d12 +25, unsubscribe d22 -30 (disqualifiers, no decay), /docs/getting-started d35 +2 (first docs award).
Tiers: trial d10: 45 -> mql. Demo d12: 25 + 20*2^(-2.0417/30) + 10*2^(-0.8333/30) + 25 = 78.6 -> 79 sql. Just before the unsubscribe (d22 08:00) S = 67.8 (>= 65, still sql, no decay-driven downgrade before). After it S = 37.8 -> 38; the computed tier is cold and 38 < sql.min - h = 65, so the contact takes the computed tier: sql -> cold directly (not mql: hysteresis only holds the previous tier).""",
'c06': """Fit: "Marketing Manager" 8; 300 -> size-mid 10; CA 5; saas 5: 28. Offsets -05:00.
Awards: newsletter opens d1, d8, d15, d22 (a week apart, +1 each); webinar d35 +12.
Tiers: webinar d35: 28 + 0.456+0.536+0.631+0.742... = 42.4 -> mql. Then only decay; at T S = 36.88 -> 37: computed cold, but 37 >= 40 - 5, so held in mql (a downgrade held by hysteresis). Monotone decay from 42.4 to 36.88 never goes under 35, so no wake-time transition either.""",
'c07': """Fit: "VP Growth" 15; 80 -> size-mid 10; US 5; software 5 = 35 (equal to the max). email at rivalscore.io -> competitor -50 (a fit rule of the disqualifiers group).
Awards: whitepaper d20 +6, /pricing d21 +8. S = 35 + 6.18 - 50 < 0 -> score 0, cold.""",
'c08': """First life: created d4 (manager 8, 2000 -> enterprise 15, JP not a target: 23, null->cold), webinar d6 +12 (35, cold). Deleted d14: every trace goes.
Second life: created d30 "Director of Engineering" (manager 8), 2000 (15), US (5): 28; a new contact, so null->cold again. Opens d31 00:30 +1, d31 06:00 refused (5h30 < 1d). Webinar d40 +12: `once` counts from the re-creation, so it is awarded: 28 + 0.73 + 12 = 40.7 -> 41 mql.
At T: 36.82 -> 37, computed cold, held in mql (>= 35).""",
'c09': """Created d2 (FR 5: score 5, null->cold), one open, deleted d20 and never seen again: not printed. Its only transition is null->cold.""",
'c10': """Never created: the first activity creates it with no properties, so no fit rule holds (every condition on a missing field is false). Unix-seconds timestamps.
Opens: d3 09:00 +1; d3 15:00 refused (6h); d4 12:00 +1 (27h). Docs: /docs/api d5 10:00 +2; /docs/sdk d5 15:00 refused (5h < 12h); /docs d6 09:00 +2 (23h). Cold.""",
'c11': """Fit: "Chief Revenue Officer" 15; 650 -> size-mid 10; FR 5; fintech 5: 35.
Awards: trial d46 +20; demo d47 +25; webinar d48 +12; reply d49 +10; six clicks d50 09:00..09:50: the first five +3 each, the sixth refused (max_awards 5); /pricing and /pricing/enterprise d51: +8, +8.
Tiers: trial: 55 mql; demo d47: 35 + 20*2^(-1.0833/30) + 25 = 79.5 -> 80 sql. At T the engagement worth is 81.93, capped at 60: score 95. In `top`, points are each rule's own worth (not capped).""",
'c12': """Fit: "Office Manager" 8; 5 employees -> size-micro -5; US 5: 8.
Bounces: soft d11 (the condition bounce = hard fails), hard d12 -20, hard d13 refused (once). S = -12 -> 0, cold. top: size-micro and target-country tie at |5|, by rule id.""",
'c13': """Fit: "VP Sales" 15; 1500 (15); US 5; software 5: 40 -> 35.
Awards: the reply of d25 with id mc-7001 (+10); the second line with id mc-7001 is a duplicate delivery and is ignored (otherwise a second +10: email-reply has no cap). Click d38 +3.
Tiers: reply d25: 45 -> mql. At T 41.91 -> 42, mql.""",
'c14': """Fit: "Head of IT" 8; 900 (10); US 5; software 5: 28.
Awards: webinar d20 +12 (40.0 -> 40 mql), reply d21 +10 (49.7).
d35 update: job_title "Consultant" (no title rule), company_size 8 (size-micro -5 instead of size-mid): fit 5 + 5 - 5 = 5. S = 5 + 12*2^(-14.7/30) + 10*2^(-13.96/30) = 20.79 -> 21 < 35: mql -> cold (a downgrade not held).""",
'c15': """Fit: "Director of Finance" 8; 400 (10); GB 5; fintech 5: 28.
Awards: contact form d44 10:00 +5 (form-fill), ebook d44 10:30 +6, clicks d46 and d47 +3 each.
Tiers: d44: 39 (cold); click d46: 41.5 -> 42 mql. d50 update industry "Retail": fit 23, S = 38.06 -> 38: computed cold, held in mql (>= 35). At T 36.13 -> 36, still held.""",
'c16': """Fit: "Procurement Manager" 8; company_size "1,200" does not parse fully as a number, so no size rule; ES not a target: 8. d30 update "1200" parses -> size-enterprise 15: 23. Open d31 +1. Cold.""",
'c17': """Fit: "Product Manager" 8; 60 (10); US 5; saas 5: 28.
Opens (cooldown 1d against the latest awarded open): d0 10:30 +1; d0 20:00 no (9h30); d1 09:00 no (22h30); d1 10:30 +1 (exactly 24h: |t - t_last| >= cooldown); d2 10:00 no (23h30); d3 08:00 +1 (45h30); d3 20:00 no (12h); d4 07:59 no (23h59); d4 09:00 +1 (25h). 4 awards.
Docs (cooldown 12h): d10 10:00 +2; d10 21:00 no (11h); d11 09:00 +2 (23h). Cold (31).""",
'c18': """All timestamps in Unix seconds. Fit: "Head of Data" 8; 75 (10); DE 5; software 5: 28.
Awards: trial d16 +20 (48 -> mql); six weekly opens d20..d55 +1 each. At T S = 39.97 -> 40: mql on its own merits. Lowest point: 39.30 (-> 39) just before the d55 open (>= 35).""",
'c19': """Fit: "Founder" 15; 3 employees -> size-micro -5; NG not a target; outlook.com -> free-mail -10: 0.
Awards: /docs/install d49 10:00 +2; /docs/api d49 13:00 refused (3h < 12h); /docs/api d50 09:00 +2 (23h); trial d50 09:30 +20; demo d51 +25.
Tiers: demo d51: 48.3 -> mql. At T 43.14 -> 43.""",
'c20': """Fit: "VP Customer Success" 15; 12000 (15); US 5; software 5: 40 -> 35.
Awards: webinar d40 +12 (47 mql); demo d42 +25: 35 + 12*2^(-1.9583/30) + 25 = 71.46 -> 71 sql; /pricing d43 +8.
At T S = 67.38 -> 67: computed mql, but 67 >= 70 - 5: held in sql. Decay from 79 to 67.38 never goes under 65.""",
'c21': """Fit: "SVP Operations" contains "vp" -> 15; 3000 (15); US 5; Healthcare not a target: 35.
Awards: webinar d36 +12 (47 mql), demo d37 +25 (71.7 -> 72 sql), reply d38 +10.
d52 update job_title "Advisor": title-exec no longer holds, fit 20; S = 53.2 -> 53 < 65: sql -> mql (not held). At T 50.38 -> 50, mql.""",
'c22': """Fit: "Sales Director" 8; 40 employees: no size rule; US 5: 13.
Weekly opens d1..d50 at 12:00: 8 awards (7 days apart). Clicks d1..d43 at 12:05: the first five awarded (+3 each), d36 and d43 refused (max_awards 5). Cold.""",
'c23': """Fit: "Marketing Director" 8; 200 (10); CN not a target: 18. Offsets +08:00.
Forms (form-fill, cooldown 7d): contact d10 +5; newsletter d14 refused (4d); event d18 +5 (8d after d10); survey d19 matches no rule (not in the list, not "demo"). Download "case-study" is not a listed asset type. Cold.""",
'c24': """Fit: "VP Engineering" 15; 10000 (15); US 5; software 5: 40 -> 35. Opens d6 and d13 (+1 each). 35.69 -> 36, cold: the best fit alone never makes an mql.""",
'c25': """Fit at creation: "Operations Manager" 8; 55 (10); FR 5; yahoo.com -> free-mail -10: 13. d28 email changed to a company domain: 23. d29 job_title null removes the title: 15. No activity. Cold.""",
'c26': """Fit: "Chief Financial Officer" 15; 1100 (15); GB 5; saas 5: 40 -> 35. Webinars d30 +12, d37 and d44 refused (once). d30: 47 -> mql; T: 41.6 -> 42, mql.""",
'c27': """Fit: "Head of Procurement" 8; 500 (10); AE not a target: 18.
Replies d33, d40, d47 +10 each (no cooldown). d40: 36.5 -> 37 (cold; 36.5067 rounds up); d47: 43.7 -> 44 mql. T: 38.79 -> 39 held in mql.""",
'c28': """Fit: "Software Engineer" (no keyword), 30 employees (no size rule), BR, gmail.com -> -10. Score 0, cold.""",
'c29': """Fit: "Marketing Intern" -> title-student -10; 15000 (15); US 5; hotmail.com -10: 0. One open d22: S = 0.455 -> 0, cold. top: size-enterprise 15 first, then the two -10 rules by id.""",
'c30': """Never created at first: the /pricing view of d20 creates the contact with no properties. /pricing d20 10:00 +8, /pricing/faq d20 10:02 +8, /pricing d21 +8 (3 of 3), d22 and d23 refused (max_awards 3); /docs d24 +2.
d25 contact.created merges the properties: "Head of Sales Ops" 8; 350 (10); US 5; software 5: 28. S = 28 + 23.5 = 51.5 -> 52: cold -> mql. T: 39.46 -> 39, held in mql.""",
'c31': """Fit: "IT Director" 8; 1000 >= 1000 -> size-enterprise 15 (not size-mid, whose range ends at 999); NL 5: 28. Cold.""",
'c32': """Fit: "Growth Manager" 8; 50 -> size-mid 10 (between is inclusive); US 5: 23. Cold.""",
}
