/* The synthetic workload, see workload.h. */
#include "workload.h"

#include <stdio.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* xorshift64*: fast, good enough, and the same on every platform. */
static uint64_t rnd(struct wl *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(struct wl *w, uint32_t n)
{
    return (uint32_t)((rnd(w) >> 32) * n >> 32);
}

static double unit(struct wl *w)
{
    return (double)(rnd(w) >> 11) / 9007199254740992.0;
}

static const char *const titles[] = {
    "CEO", "Chief Marketing Officer", "Founder", "VP Sales", "VP Engineering",
    "Director of Marketing", "Head of Growth", "IT Director",
    "Marketing Manager", "Product Manager", "Engineering Lead",
    "Software Engineer", "Data Analyst", "Marketing Specialist",
    "Sales Representative", "Consultant", "Student", "Marketing Intern",
    "Office Manager", "Account Executive",
};
static const char *const countries[] = {
    "US", "US", "US", "GB", "DE", "FR", "CA", "NL", "ES", "IT", "SE", "IN",
    "BR", "AU", "JP", "PL", "CH", "MX", "SG", "ZA",
};
static const char *const industries[] = {
    "software", "saas", "fintech", "banking", "retail", "healthcare",
    "manufacturing", "education", "government", "logistics", "media",
};
static const char *const domains[] = {
    "gmail.com", "yahoo.com", "outlook.com", "acme.com", "globex.io",
    "initech.com", "umbrella.co", "hooli.com", "stark.industries",
    "wayne.enterprises", "cyberdyne.ai", "tyrell.corp", "massive.dynamic",
    "state.edu", "rivalscore.io", "soylent.co",
};
static const char *const size_strings[] = {"25", "150", "480", "2500"};

static const char *const campaigns[] = {
    "newsletter-weekly", "newsletter-monthly", "product-launch",
    "product-update", "event-invite", "event-reminder", "nurture-3",
};
static const char *const click_urls[] = {
    "https://example.com/newsletter/issue", "https://example.com/product/new",
    "https://example.com/release-notes", "https://example.com/case-study/acme",
    "https://example.com/blog/post",
};
static const char *const page_urls[] = {
    "/", "/blog/intent-data", "/blog/mql-vs-sql", "/pricing",
    "/pricing/enterprise", "/docs/getting-started", "/docs/api/events",
    "/integrations/hubspot", "/customers", "/security", "/careers",
    "/about", "/blog/decay-explained", "/features",
};
static const char *const forms[] = {"newsletter", "contact", "demo", "event",
                                    "survey"};
static const char *const assets[] = {"whitepaper", "ebook", "case-study",
                                     "report", "datasheet"};

/* Activity types with their relative weights (out of 1000). */
static const struct {
    const char *type;
    unsigned weight;
} activities[] = {
    {"page_view", 420}, {"email_open", 300}, {"email_click", 110},
    {"download", 40},   {"video_play", 40},  {"form_submit", 30},
    {"email_reply", 20}, {"webinar_attended", 15}, {"email_bounce", 10},
    {"trial_started", 8}, {"unsubscribe", 5}, {"spam_complaint", 2},
};

void wl_init(struct wl *w, uint64_t n_contacts, uint64_t n_events,
             uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    w->n_contacts = n_contacts;
    w->n_events = n_events;
    w->t0_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
    w->span_ms = 90LL * 86400000LL;
}

void wl_contact_id(uint32_t i, char *buf, size_t len)
{
    snprintf(buf, len, "c%07u", (unsigned)i);
}

static void str(struct wl_event *e, const char *k, const char *v)
{
    e->props[e->n_props++] = (struct wl_prop){k, WL_STR, v, 0};
}

static void num(struct wl_event *e, const char *k, double v)
{
    e->props[e->n_props++] = (struct wl_prop){k, WL_NUM, NULL, v};
}

static void size_prop(struct wl *w, struct wl_event *e)
{
    if (below(w, 10) == 0) { /* some CRMs send numbers as strings */
        str(e, "company_size", size_strings[below(w, N_OF(size_strings))]);
    } else {
        num(e, "company_size", (double)(1 + below(w, 5000)));
    }
}

#define PICK(w, a) (a)[below((w), (uint32_t)N_OF(a))]

bool wl_next(struct wl *w, struct wl_event *e)
{
    if (w->i >= w->n_events) {
        return false;
    }
    uint64_t i = w->i++;
    e->n_props = 0;
    e->email[0] = '\0';
    e->ts_ms = w->t0_ms + (int64_t)((double)i / (double)w->n_events *
                                    (double)w->span_ms);
    /* Introduce contacts evenly over the first 80% of the stream. */
    uint64_t due = (uint64_t)((double)(i + 1) / (0.8 * (double)w->n_events) *
                              (double)w->n_contacts) + 1;
    if (w->created < w->n_contacts && (w->created < due || w->created == 0)) {
        uint32_t c = (uint32_t)w->created++;
        e->kind = WL_CREATED;
        e->contact = c;
        e->type = "contact.created";
        snprintf(e->email, sizeof e->email, "user%u@%s", (unsigned)c,
                 PICK(w, domains));
        str(e, "email", e->email);
        str(e, "job_title", PICK(w, titles));
        size_prop(w, e);
        str(e, "country", PICK(w, countries));
        if (below(w, 5) != 0) {
            str(e, "industry", PICK(w, industries));
        }
        if (below(w, 3) == 0) {
            str(e, "phone", "+1 555 0100");
        }
        return true;
    }
    /* Skewed choice: u^3 puts most activity on recent contacts. */
    double u = unit(w);
    uint64_t back = (uint64_t)(u * u * u * (double)w->created);
    e->contact = (uint32_t)(w->created - 1 - (back < w->created ? back : 0));
    uint32_t r = below(w, 1000);
    if (r < 30) {
        e->kind = WL_UPDATED;
        e->type = "contact.updated";
        switch (below(w, 4)) {
        case 0: str(e, "job_title", PICK(w, titles)); break;
        case 1: size_prop(w, e); break;
        case 2: str(e, "industry", PICK(w, industries)); break;
        default: e->props[e->n_props++] =
                     (struct wl_prop){"industry", WL_NULL, NULL, 0};
                 break;
        }
        return true;
    }
    if (r < 31) {
        e->kind = WL_DELETED;
        e->type = "contact.deleted";
        return true;
    }
    e->kind = WL_ACTIVITY;
    uint32_t pick = below(w, 1000), acc = 0;
    size_t k = 0;
    for (; k + 1 < N_OF(activities); k++) {
        acc += activities[k].weight;
        if (pick < acc) {
            break;
        }
    }
    e->type = activities[k].type;
    if (strcmp(e->type, "page_view") == 0) {
        str(e, "url", PICK(w, page_urls));
    } else if (strcmp(e->type, "email_open") == 0) {
        str(e, "campaign", PICK(w, campaigns));
    } else if (strcmp(e->type, "email_click") == 0) {
        str(e, "url", PICK(w, click_urls));
        str(e, "campaign", PICK(w, campaigns));
    } else if (strcmp(e->type, "download") == 0) {
        str(e, "asset_type", PICK(w, assets));
    } else if (strcmp(e->type, "form_submit") == 0) {
        str(e, "form", PICK(w, forms));
    } else if (strcmp(e->type, "email_bounce") == 0) {
        str(e, "bounce", below(w, 3) == 0 ? "hard" : "soft");
    } else if (strcmp(e->type, "webinar_attended") == 0) {
        str(e, "webinar", "scoring-101");
        num(e, "minutes", (double)(5 + below(w, 55)));
    }
    return true;
}
