/*
 * Incremental import of campaign email activity: every sent campaign of
 * the audience within the look-back window, then GET
 * /reports/{campaign_id}/email-activity?since=... paged with count/offset.
 * The `since` sent is the checkpoint minus an overlap window: activity
 * Mailchimp records late is not lost, and what is read twice carries the
 * same stable event id, so the host drops it as a duplicate.
 */
#include "mc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define PAGE 1000 /* documented maximum of count */

struct campaign {
    char id[64];
    char type[32];
};

/* Sent campaigns of the list since `since` (may be ""): *out malloc()ed. */
static enum lsc_status list_campaigns(struct mailchimp *mc,
                                      const char *since,
                                      struct campaign **out, size_t *n,
                                      char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    char *esc = mc_http_escape(since);
    if (esc == NULL) {
        return LSC_ERR_NOMEM;
    }
    enum lsc_status st = LSC_OK;
    for (size_t offset = 0;;) {
        char path[512];
        snprintf(path, sizeof path,
                 "/campaigns?count=%d&offset=%zu&status=sent&list_id=%s"
                 "&since_send_time=%s",
                 PAGE, offset, mc->cfg.list_id, esc);
        struct mc_http_resp r;
        st = mc_call(mc, "GET", path, NULL, &r, NULL, err, errlen);
        if (st != LSC_OK) {
            break;
        }
        if (r.status != 200) {
            mc_reason("listing campaigns", &r, err, errlen);
            mc_http_resp_free(&r);
            st = LSC_ERR_PERMANENT;
            break;
        }
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        mc_http_resp_free(&r);
        json_t *arr = json_object_get(j, "campaigns");
        if (!json_is_array(arr)) {
            json_decref(j);
            snprintf(err, errlen, "listing campaigns: no \"campaigns\" "
                                  "array in the answer");
            st = LSC_ERR_PARSE;
            break;
        }
        size_t total = (size_t)json_integer_value(
            json_object_get(j, "total_items"));
        size_t i;
        json_t *c;
        json_array_foreach(arr, i, c) {
            const char *id = json_string_value(json_object_get(c, "id"));
            const char *type = json_string_value(json_object_get(c, "type"));
            if (id == NULL) {
                continue;
            }
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                struct campaign *nc = realloc(*out, cap * sizeof *nc);
                if (nc == NULL) {
                    st = LSC_ERR_NOMEM;
                    break;
                }
                *out = nc;
            }
            snprintf((*out)[*n].id, sizeof (*out)[*n].id, "%s", id);
            snprintf((*out)[*n].type, sizeof (*out)[*n].type, "%s",
                     type != NULL ? type : "");
            (*n)++;
        }
        size_t got = json_array_size(arr);
        json_decref(j);
        offset += got;
        if (st != LSC_OK || got == 0 || offset >= total) {
            break;
        }
    }
    free(esc);
    if (st != LSC_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return st;
}

struct counting {
    mailchimp_activity_sink_fn sink;
    void *ud;
    size_t n;
};

/* Forwards to the caller's sink and counts delivered events. */
static enum lsc_status count_sink(void *ud, const struct mailchimp_activity *a)
{
    struct counting *c = ud;
    enum lsc_status st = c->sink(c->ud, a);
    if (st == LSC_OK) {
        c->n++;
    }
    return st;
}

enum lsc_status mailchimp_import_activity(struct mailchimp *mc,
                                          int64_t *checkpoint_ms,
                                          int64_t now_ms,
                                          mailchimp_activity_sink_fn sink,
                                          void *ud, size_t *n_events,
                                          char *err, size_t errlen)
{
    if (n_events != NULL) {
        *n_events = 0;
    }
    if (mc == NULL || checkpoint_ms == NULL || sink == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    int64_t since_ms = *checkpoint_ms;
    if (since_ms != INT64_MIN) {
        since_ms -= (int64_t)mc->cfg.activity_overlap_minutes * 60000;
    }
    char send_since[40];
    mailchimp_format_time(now_ms - (int64_t)mc->cfg.activity_lookback_days *
                                       86400000,
                          send_since, sizeof send_since);
    struct campaign *camps = NULL;
    size_t nc = 0;
    enum lsc_status st =
        list_campaigns(mc, send_since, &camps, &nc, err, errlen);
    if (st != LSC_OK) {
        return st;
    }
    char since_s[40] = "";
    if (since_ms != INT64_MIN) {
        mailchimp_format_time(since_ms, since_s, sizeof since_s);
    }
    char *since_esc = mc_http_escape(since_s);
    struct counting cnt = {sink, ud, 0};
    int64_t max_ts = *checkpoint_ms;
    for (size_t c = 0; st == LSC_OK && since_esc != NULL && c < nc; c++) {
        struct mailchimp_activity_ctx ctx = {
            .campaign_id = camps[c].id,
            .campaign_type = camps[c].type[0] != '\0'
                                 ? mailchimp_config_campaign_type(
                                       &mc->cfg, camps[c].type)
                                 : NULL,
            .since_ms = since_ms,
            .contact_is_hash =
                strcmp(mc->cfg.contact_id_from, "subscriber_hash") == 0,
        };
        for (size_t offset = 0;;) {
            char path[512];
            int len = snprintf(path, sizeof path,
                               "/reports/%s/email-activity?count=%d&offset=%zu",
                               camps[c].id, PAGE, offset);
            if (since_s[0] != '\0' && len > 0 && (size_t)len < sizeof path) {
                snprintf(path + len, sizeof path - (size_t)len, "&since=%s",
                         since_esc);
            }
            struct mc_http_resp r;
            st = mc_call(mc, "GET", path, NULL, &r, NULL, err, errlen);
            if (st != LSC_OK) {
                break;
            }
            if (r.status == 404) {
                /* The campaign (or its report) is gone: nothing to read,
                 * and it must not block the checkpoint forever. */
                mc_http_resp_free(&r);
                break;
            }
            if (r.status != 200) {
                char what[96];
                snprintf(what, sizeof what, "email activity of campaign %s",
                         camps[c].id);
                mc_reason(what, &r, err, errlen);
                mc_http_resp_free(&r);
                st = LSC_ERR_PERMANENT;
                break;
            }
            size_t n_emails = 0, total = 0;
            st = mailchimp_parse_email_activity(r.body, r.body_len, &ctx,
                                                count_sink, &cnt, &n_emails,
                                                &total, &max_ts, err, errlen);
            mc_http_resp_free(&r);
            offset += n_emails;
            if (st != LSC_OK || n_emails == 0 || offset >= total) {
                break;
            }
        }
    }
    if (since_esc == NULL && st == LSC_OK) {
        st = LSC_ERR_NOMEM;
        snprintf(err, errlen, "activity import: out of memory");
    }
    free(since_esc);
    free(camps);
    if (n_events != NULL) {
        *n_events = cnt.n;
    }
    if (st == LSC_OK && max_ts > *checkpoint_ms) {
        *checkpoint_ms = max_ts;
    }
    return st;
}

/* Writes one event line to the FILE * in ud (borrowed). */
static enum lsc_status jsonl_sink(void *ud, const struct mailchimp_activity *a)
{
    FILE *out = ud;
    if (fputs(a->jsonl, out) == EOF || fputc('\n', out) == EOF) {
        return LSC_ERR_IO;
    }
    return LSC_OK;
}

enum lsc_status mailchimp_import_activity_jsonl(struct mailchimp *mc,
                                                FILE *out,
                                                int64_t *checkpoint_ms,
                                                int64_t now_ms,
                                                size_t *n_events, char *err,
                                                size_t errlen)
{
    if (out == NULL) {
        return LSC_ERR_INVALID_ARG;
    }
    int64_t cp = *checkpoint_ms;
    enum lsc_status st = mailchimp_import_activity(mc, &cp, now_ms,
                                                   jsonl_sink, out, n_events,
                                                   err, errlen);
    if (st == LSC_OK && fflush(out) != 0) {
        snprintf(err, errlen, "activity import: cannot write the events");
        st = LSC_ERR_IO;
    }
    if (st == LSC_OK) {
        *checkpoint_ms = cp;
    }
    return st;
}

enum lsc_status mailchimp_checkpoint_read(const char *path, int64_t *ms,
                                          char *err, size_t errlen)
{
    *ms = INT64_MIN;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return LSC_OK;
    }
    long long v;
    int ok = fscanf(f, "%lld", &v);
    fclose(f);
    if (ok != 1) {
        snprintf(err, errlen, "checkpoint %s is not a number", path);
        return LSC_ERR_CORRUPT;
    }
    *ms = (int64_t)v;
    return LSC_OK;
}

enum lsc_status mailchimp_checkpoint_write(const char *path, int64_t ms,
                                           char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write checkpoint %s", tmp);
        return LSC_ERR_IO;
    }
    int ok = fprintf(f, "%lld\n", (long long)ms) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        snprintf(err, errlen, "cannot write checkpoint %s", path);
        return LSC_ERR_IO;
    }
    return LSC_OK;
}
