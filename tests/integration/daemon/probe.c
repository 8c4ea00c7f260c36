/*
 * Test helper for the daemon integration tests:
 *   probe sign-hubspot SECRET METHOD URI BODYFILE TIMESTAMP_MS
 *   probe sign-mailchimp SECRET UNIX_SECONDS BODYFILE
 *   probe sql DATADIR SQL        rows tab-separated, one per line
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "hooks.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t r;
    while (b != NULL && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(b, cap *= 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "sign-hubspot") == 0) {
        size_t len = 0;
        char *body = slurp(argv[5], &len);
        char out[64];
        if (body == NULL || hooks_sign_hubspot(argv[2], argv[3], argv[4],
                                               body, len, argv[6], out,
                                               sizeof out) != LSC_OK) {
            return 1;
        }
        puts(out);
        free(body);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "sign-mailchimp") == 0) {
        size_t len = 0;
        char *body = slurp(argv[4], &len);
        char out[160];
        if (body == NULL ||
            hooks_sign_mailchimp(argv[2], strtoll(argv[3], NULL, 10), body,
                                 len, out, sizeof out) != LSC_OK) {
            return 1;
        }
        puts(out);
        free(body);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "sql") == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/leadscored.db", argv[2]);
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
            SQLITE_OK) {
            fprintf(stderr, "probe: cannot open %s\n", path);
            return 1;
        }
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, argv[3], -1, &st, NULL) != SQLITE_OK) {
            fprintf(stderr, "probe: %s\n", sqlite3_errmsg(db));
            sqlite3_close(db);
            return 1;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const unsigned char *t = sqlite3_column_text(st, i);
                printf("%s%s", i ? "\t" : "", t ? (const char *)t : "NULL");
            }
            putchar('\n');
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return 0;
    }
    fprintf(stderr, "usage: probe sign-hubspot|sign-mailchimp|sql ...\n");
    return 2;
}
