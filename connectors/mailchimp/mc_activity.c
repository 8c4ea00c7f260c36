/*
 * Email activity of campaigns (GET /reports/{campaign_id}/email-activity)
 * turned into leadscore activity events: email_open, email_click,
 * email_bounce, with stable event ids so a re-import never double-counts.
 * Event line format: ../shared/docs/scoring-model.md section 1.
 */
#include "mailchimp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

void mailchimp_event_id(const char *campaign_id, const char *email_id,
                        const char *action, int64_t ts_ms, const char *url,
                        char *out, size_t outlen)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s\x1f%s\x1f%s\x1f%lld\x1f%s",
                     campaign_id != NULL ? campaign_id : "",
                     email_id != NULL ? email_id : "",
                     action != NULL ? action : "", (long long)ts_ms,
                     url != NULL ? url : "");
    if (n < 0) {
        n = 0;
    }
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        mdlen = 0;
    }
    static const char hex[] = "0123456789abcdef";
    char id[40] = "mc-";
    for (unsigned int i = 0; i < 16 && i < mdlen; i++) {
        id[3 + 2 * i] = hex[md[i] >> 4];
        id[3 + 2 * i + 1] = hex[md[i] & 0xf];
    }
    id[3 + 32] = '\0';
    snprintf(out, outlen, "%s", id);
}

static const char *event_type(const char *action)
{
    if (action == NULL) {
        return NULL;
    }
    if (strcmp(action, "open") == 0) {
        return "email_open";
    }
    if (strcmp(action, "click") == 0) {
        return "email_click";
    }
    if (strcmp(action, "bounce") == 0) {
        return "email_bounce";
    }
    return NULL;
}

/* A string property; borrows k and v (they must outlive its use). */
static struct lsc_prop str_prop(const char *k, const char *v)
{
    struct lsc_prop p;
    p.key = k;
    p.value.type = LSC_VAL_STRING;
    p.value.u.str.ptr = v;
    p.value.u.str.len = strlen(v);
    return p;
}

/* Builds the event for one activity record and hands it to the sink.
 * Everything borrowed; `line` is freed here. */
static enum lsc_status emit(const struct mailchimp_activity_ctx *ctx,
                            const char *email, const char *email_id,
                            json_t *act, int64_t ts_ms,
                            mailchimp_activity_sink_fn sink, void *ud,
                            char *err, size_t errlen)
{
    const char *action = json_string_value(json_object_get(act, "action"));
    const char *type = event_type(action);
    if (type == NULL) {
        return LSC_OK; /* other actions are not scored */
    }
    const char *url = json_string_value(json_object_get(act, "url"));
    const char *btype = json_string_value(json_object_get(act, "type"));
    bool is_click = strcmp(type, "email_click") == 0;
    bool is_bounce = strcmp(type, "email_bounce") == 0;
    if (!is_click || (url != NULL && url[0] == '\0')) {
        url = is_click ? url : NULL;
    }
    if (!is_bounce || btype == NULL || btype[0] == '\0') {
        btype = NULL;
    }

    char norm[320];
    char hash[MAILCHIMP_HASH_LEN + 1];
    if (mailchimp_email_normalize(email, norm, sizeof norm) != LSC_OK ||
        mailchimp_subscriber_hash(norm, hash, sizeof hash, NULL, 0) !=
            LSC_OK) {
        return LSC_OK; /* no usable address: nothing to attach it to */
    }
    const char *eid = email_id != NULL && email_id[0] != '\0' ? email_id
                                                              : hash;
    char id[40];
    mailchimp_event_id(ctx->campaign_id, eid, action, ts_ms, url, id,
                       sizeof id);
    char ts[40];
    mailchimp_format_time(ts_ms, ts, sizeof ts);

    struct lsc_prop props[4];
    size_t np = 0;
    props[np++] = str_prop("campaign_id", ctx->campaign_id);
    if (ctx->campaign_type != NULL) {
        props[np++] = str_prop("campaign_type", ctx->campaign_type);
    }
    if (url != NULL) {
        props[np++] = str_prop("url", url);
    }
    if (btype != NULL) {
        props[np++] = str_prop("bounce", btype);
    }

    json_t *jp = json_object();
    for (size_t i = 0; jp != NULL && i < np; i++) {
        json_object_set_new(jp, props[i].key,
                            json_string(props[i].value.u.str.ptr));
    }
    const char *contact = ctx->contact_is_hash ? hash : norm;
    json_t *line = json_pack("{s:s,s:s,s:s,s:s,s:o}", "contact", contact,
                             "type", type, "ts", ts, "id", id, "props", jp);
    char *text = line != NULL
                     ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER)
                     : NULL;
    json_decref(line);
    if (text == NULL) {
        snprintf(err, errlen, "activity import: out of memory");
        return LSC_ERR_NOMEM;
    }
    struct mailchimp_activity a = {
        .contact_id = contact,
        .email = norm,
        .type = type,
        .ts_ms = ts_ms,
        .event_id = id,
        .campaign_id = ctx->campaign_id,
        .campaign_type = ctx->campaign_type,
        .url = url,
        .bounce_type = btype,
        .props = props,
        .n_props = np,
        .jsonl = text,
    };
    enum lsc_status st = sink(ud, &a);
    free(text);
    if (st != LSC_OK) {
        snprintf(err, errlen, "activity import stopped by the consumer: %s",
                 lsc_status_str(st));
    }
    return st;
}

enum lsc_status mailchimp_parse_email_activity(
    const char *body, size_t len, const struct mailchimp_activity_ctx *ctx,
    mailchimp_activity_sink_fn sink, void *ud, size_t *n_emails,
    size_t *total_items, int64_t *max_ts_ms, char *err, size_t errlen)
{
    *n_emails = 0;
    *total_items = 0;
    json_error_t je;
    json_t *root = json_loadb(body != NULL ? body : "", len, 0, &je);
    json_t *emails = json_object_get(root, "emails");
    if (!json_is_array(emails)) {
        snprintf(err, errlen,
                 "email activity of campaign %s: no \"emails\" array",
                 ctx->campaign_id);
        json_decref(root);
        return LSC_ERR_PARSE;
    }
    json_t *t = json_object_get(root, "total_items");
    *total_items =
        json_is_integer(t) ? (size_t)json_integer_value(t) : 0;
    *n_emails = json_array_size(emails);
    enum lsc_status st = LSC_OK;
    size_t i;
    json_t *e;
    json_array_foreach(emails, i, e) {
        const char *addr =
            json_string_value(json_object_get(e, "email_address"));
        const char *email_id =
            json_string_value(json_object_get(e, "email_id"));
        json_t *acts = json_object_get(e, "activity");
        size_t k;
        json_t *a;
        if (addr == NULL || !json_is_array(acts)) {
            continue;
        }
        json_array_foreach(acts, k, a) {
            int64_t ts;
            const char *tss =
                json_string_value(json_object_get(a, "timestamp"));
            if (mailchimp_parse_time(tss, &ts) != LSC_OK) {
                continue;
            }
            if (ts < ctx->since_ms) {
                continue;
            }
            st = emit(ctx, addr, email_id, a, ts, sink, ud, err, errlen);
            if (st != LSC_OK) {
                goto out;
            }
            if (ts > *max_ts_ms) {
                *max_ts_ms = ts;
            }
        }
    }
out:
    json_decref(root);
    return st;
}
