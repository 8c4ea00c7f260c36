/*
 * Allocation failures for the mapping validator tests.  The test links
 * with -Wl,--wrap=strdup -Wl,--wrap=calloc (and -Wl,--wrap=malloc when it
 * defines OOM_WRAP_MALLOC), so that the n-th such call made by the
 * connector, or the static libraries it links, fails.  Include it once,
 * after <cmocka.h> and the connector's header.
 */
#ifndef LSC_TESTS_UNIT_OOM_WRAP_H
#define LSC_TESTS_UNIT_OOM_WRAP_H

/* One counter per wrapped function; fail_at -1: none fails. */
struct oom_failer {
    long fail_at;
    long calls;
};
static struct oom_failer oom_strdup = {-1, 0};
static struct oom_failer oom_calloc = {-1, 0};

static int oom_fails_now(struct oom_failer *f)
{
    return f->calls++ == f->fail_at;
}

char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);

char *__wrap_strdup(const char *s)
{
    return oom_fails_now(&oom_strdup) ? NULL : __real_strdup(s);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return oom_fails_now(&oom_calloc) ? NULL : __real_calloc(n, size);
}

#ifdef OOM_WRAP_MALLOC
static struct oom_failer oom_malloc = {-1, 0};
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

void *__wrap_malloc(size_t size)
{
    return oom_fails_now(&oom_malloc) ? NULL : __real_malloc(size);
}
#endif

/* One parse of the test's mapping: its status; when LSC_OK, the parse
 * has checked that the mapping is complete and freed it. */
typedef enum lsc_status (*oom_parse_fn)(void);

/* Fails each call counted by f in turn (at least min_calls of them):
 * every parse is refused or complete, never a crash. */
static void oom_fail_each(struct oom_failer *f, long min_calls,
                          oom_parse_fn parse)
{
    struct oom_failer *all[] = {&oom_strdup, &oom_calloc,
#ifdef OOM_WRAP_MALLOC
                                &oom_malloc,
#endif
    };
    size_t n = sizeof all / sizeof all[0];
    /* none fails yet, whatever an earlier (crashed) test left */
    for (size_t i = 0; i < n; i++) {
        all[i]->fail_at = -1;
        all[i]->calls = 0;
    }
    assert_int_equal(parse(), LSC_OK);
    long total = f->calls;
    assert_true(total >= min_calls);
    for (f->fail_at = 0; f->fail_at < total; f->fail_at++) {
        for (size_t i = 0; i < n; i++) {
            all[i]->calls = 0;
        }
        enum lsc_status st = parse();
        if (st != LSC_OK) {
            assert_true(st == LSC_ERR_NOMEM || st == LSC_ERR_CONFIG);
        }
    }
    f->fail_at = -1;
}

#endif
