/*
 * The floor for any JSON Lines scorer: read each line and parse it with
 * jansson, nothing else.  Prints lines, seconds and lines per second.
 *
 *   parse_only FILE.jsonl
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: parse_only FILE.jsonl\n");
        return 2;
    }
    double t0 = now_s();
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        fprintf(stderr, "parse_only: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long long lines = 0, bad = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t err;
        json_t *j = json_loadb(line, (size_t)n, 0, &err);
        if (j == NULL) {
            bad++;
        }
        json_decref(j);
        lines++;
    }
    free(line);
    fclose(f);
    double dt = now_s() - t0;
    printf("parse_only: %llu lines (%llu invalid) in %.3f s: %.0f lines/s\n",
           lines, bad, dt, (double)lines / dt);
    return 0;
}
