/*
 * Results archive of a finished batch (crm-apis.md 2.6): the file at
 * response_body_url is a gzipped tar of JSON files, each an array of
 * {"status_code":N,"operation_id":"...","response":"<JSON text>"}.
 * Pure: zlib for the gzip layer, a small ustar reader, jansson.
 */
#include "mailchimp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

/* Decompressed archives above this are refused (a gzip bomb: the
 * results of a backfill batch are a few MiB). */
#define MC_RESULTS_MAX (256u * 1024u * 1024u)
#define TAR_BLOCK 512

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "batch results: %s", msg);
    }
}

/* gunzip `in` into *out (malloc()ed, caller frees).  Concatenated gzip
 * members are read one after another. */
static enum lsc_status gunzip(const unsigned char *in, size_t len,
                              unsigned char **out, size_t *outlen, char *err,
                              size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    size_t cap = len * 4 + 4096, n = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        return LSC_ERR_NOMEM;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        free(buf);
        return LSC_ERR_NOMEM;
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
    enum lsc_status st = LSC_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= MC_RESULTS_MAX) {
                set_err(err, errlen, "archive larger than 256 MiB unpacked");
                st = LSC_ERR_PARSE;
                break;
            }
            cap = cap * 2 > MC_RESULTS_MAX ? MC_RESULTS_MAX : cap * 2;
            unsigned char *nb = realloc(buf, cap);
            if (nb == NULL) {
                st = LSC_ERR_NOMEM;
                break;
            }
            buf = nb;
        }
        z.next_out = buf + n;
        z.avail_out = (uInt)(cap - n);
        int rc = inflate(&z, Z_NO_FLUSH);
        n = cap - z.avail_out;
        if (rc == Z_STREAM_END) {
            if (z.avail_in == 0) {
                break;
            }
            inflateReset(&z); /* next gzip member */
            continue;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0) {
            set_err(err, errlen, "archive is truncated");
            st = LSC_ERR_PARSE;
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            set_err(err, errlen, "archive is not gzip data");
            st = LSC_ERR_PARSE;
            break;
        }
    }
    inflateEnd(&z);
    if (st != LSC_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *outlen = n;
    return LSC_OK;
}

/* Octal field of a tar header (NUL/space terminated). */
static bool tar_octal(const unsigned char *p, size_t n, size_t *v)
{
    size_t i = 0, x = 0;
    while (i < n && p[i] == ' ') {
        i++;
    }
    bool any = false;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
        if (x > (SIZE_MAX >> 3)) {
            return false;
        }
        x = x * 8 + (size_t)(p[i] - '0');
        any = true;
    }
    if (i < n && p[i] != '\0' && p[i] != ' ') {
        return false;
    }
    *v = x;
    return any;
}

/* Calls `fn` for each entry of one results file (a JSON array). */
static enum lsc_status one_file(const unsigned char *data, size_t len,
                                mailchimp_batch_op_result_fn fn, void *ud,
                                size_t *n_results, char *err, size_t errlen)
{
    json_t *arr = json_loadb((const char *)data, len, 0, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        set_err(err, errlen, "a file in the archive is not a JSON array");
        return LSC_ERR_PARSE;
    }
    size_t i;
    json_t *it;
    enum lsc_status st = LSC_OK;
    json_array_foreach(arr, i, it) {
        json_t *sc = json_object_get(it, "status_code");
        const char *oid =
            json_string_value(json_object_get(it, "operation_id"));
        const char *resp = json_string_value(json_object_get(it, "response"));
        if (!json_is_integer(sc)) {
            set_err(err, errlen, "an operation result has no status_code");
            st = LSC_ERR_PARSE;
            break;
        }
        (*n_results)++;
        st = fn(ud, oid, (long)json_integer_value(sc), resp,
                resp != NULL ? strlen(resp) : 0);
        if (st != LSC_OK) {
            break;
        }
    }
    json_decref(arr);
    return st;
}

enum lsc_status mailchimp_batch_results_parse(
    const void *gz, size_t len, mailchimp_batch_op_result_fn fn, void *ud,
    size_t *n_results, char *err, size_t errlen)
{
    size_t dummy = 0;
    if (n_results == NULL) {
        n_results = &dummy;
    }
    *n_results = 0;
    if (gz == NULL || len == 0 || fn == NULL) {
        set_err(err, errlen, "empty archive");
        return LSC_ERR_PARSE;
    }
    unsigned char *tar = NULL;
    size_t tn = 0;
    enum lsc_status st = gunzip(gz, len, &tar, &tn, err, errlen);
    if (st != LSC_OK) {
        if (st == LSC_ERR_NOMEM) {
            set_err(err, errlen, "out of memory");
        }
        return st;
    }
    size_t off = 0;
    bool ended = false;
    while (st == LSC_OK && off + TAR_BLOCK <= tn) {
        const unsigned char *h = tar + off;
        bool zero = true;
        for (size_t i = 0; i < TAR_BLOCK && zero; i++) {
            zero = h[i] == 0;
        }
        if (zero) {
            ended = true; /* end-of-archive marker */
            break;
        }
        size_t size = 0;
        if (!tar_octal(h + 124, 12, &size)) {
            set_err(err, errlen, "bad tar header");
            st = LSC_ERR_PARSE;
            break;
        }
        off += TAR_BLOCK;
        if (size > tn - off) {
            set_err(err, errlen, "tar entry runs past the archive");
            st = LSC_ERR_PARSE;
            break;
        }
        char type = (char)h[156];
        /* Regular files only; directories and pax headers are skipped. */
        if ((type == '0' || type == '\0') && size > 0) {
            st = one_file(tar + off, size, fn, ud, n_results, err, errlen);
        }
        off += (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    }
    if (st == LSC_OK && !ended && off != tn) {
        set_err(err, errlen, "archive ends inside a tar block");
        st = LSC_ERR_PARSE;
    }
    free(tar);
    return st;
}
