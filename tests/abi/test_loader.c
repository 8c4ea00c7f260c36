/*
 * ABI tests: the host library's loader against test plugins.
 * argv: toy.so abi2.so failing.so nosym.so model.json
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loader.h"

static const char *toy_path, *abi2_path, *failing_path, *nosym_path,
    *model_path;

struct fake_host {
    char log[4096];
    size_t n_diag;
    int state_puts;
    const char *models;
};

static void fh_log(void *ud, enum lsc_log_level level, const char *msg)
{
    struct fake_host *h = ud;
    size_t len = strlen(h->log);
    snprintf(h->log + len, sizeof h->log - len, "%d:%s\n", (int)level, msg);
}

static const char *fh_config(void *ud, const char *key)
{
    struct fake_host *h = ud;
    return strcmp(key, "models") == 0 ? h->models : NULL;
}

static enum lsc_status fh_state_put(void *ud, const char *contact,
                                    const void *blob, size_t len, int64_t w)
{
    struct fake_host *h = ud;
    h->state_puts++;
    return LSC_OK;
}

static struct hl_services services(struct fake_host *h)
{
    return (struct hl_services){
        .ud = h, .host_name = "abi-test", .log = fh_log,
        .config_get = fh_config, .state_put = fh_state_put,
    };
}

static void count_reports(void *ud, const struct lsc_report *r)
{
    int *n = ud;
    assert_string_equal(r->contact_id, "c-1");
    (*n)++;
}

static void test_loader_good_plugin_round_trip(void **state)
{
    struct fake_host h = {.models = model_path};
    struct hl_services svc = services(&h);
    struct hl_plugin *p;
    char err[512] = "";
    assert_int_equal(hl_plugin_load(toy_path, &svc, &p, err, sizeof err),
                     LSC_OK);
    assert_string_equal(hl_plugin_desc(p)->name, "toy");
    assert_non_null(strstr(h.log, "model '"));
    assert_true(hl_plugin_handles(p, LSC_EVENT_ACTIVITY));
    assert_true(hl_plugin_handles(p, LSC_EVENT_EVALUATE));

    struct lsc_event ev = {.struct_size = sizeof ev,
                           .kind = LSC_EVENT_ACTIVITY, .contact_id = "c-1",
                           .type = "email_open", .ts_ms = 1000,
                           .now_ms = 1000};
    assert_int_equal(hl_plugin_event(p, &ev, err, sizeof err), LSC_OK);
    assert_int_equal(h.state_puts, 1);
    ev.type = "poison";
    assert_int_not_equal(hl_plugin_event(p, &ev, err, sizeof err), LSC_OK);
    assert_string_equal(err, "poisoned event refused");

    int n = 0;
    ev.kind = LSC_EVENT_EVALUATE;
    assert_int_equal(
        hl_plugin_report(p, &ev, count_reports, &n, err, sizeof err), LSC_OK);
    assert_int_equal(n, 1);

    size_t nk;
    const struct hl_job_kind *kinds = hl_plugin_job_kinds(p, &nk);
    assert_int_equal(nk, 1);
    assert_string_equal(kinds[0].kind, "toy.echo");
    assert_int_equal(kinds[0].max_batch, 4);
    struct lsc_job jobs[2] = {{.struct_size = sizeof jobs[0], .id = 1,
                               .kind = "toy.echo", .attempt = 1},
                              {.struct_size = sizeof jobs[0], .id = 2,
                               .kind = "toy.echo", .attempt = 1}};
    struct lsc_job_result res[2];
    assert_int_equal(hl_plugin_run_jobs(p, "toy.echo", jobs, res, 2), LSC_OK);
    assert_int_equal(res[0].status, LSC_OK);
    assert_int_equal(res[1].status, LSC_OK);
    assert_int_equal(hl_plugin_run_jobs(p, "nope", jobs, res, 1),
                     LSC_ERR_NOT_FOUND);
    assert_int_equal(hl_plugin_run_jobs(p, "toy.echo", jobs, res, 0),
                     LSC_ERR_INVALID_ARG);

    /* The toy's tick tries to register a handler: refused outside
     * create() with LSC_ERR_INVALID_ARG (2). */
    assert_int_equal(hl_plugin_tick_interval(p), 1000);
    hl_plugin_tick(p, 2000);
    assert_non_null(strstr(h.log, "late registration: 2"));

    hl_plugin_close(p);
    assert_non_null(strstr(h.log, "toy shutting down"));
}

static void test_loader_refuses_abi_major_2(void **state)
{
    struct hl_plugin *p = (struct hl_plugin *)1;
    char err[512] = "";
    assert_int_equal(hl_plugin_open(abi2_path, &p, err, sizeof err),
                     LSC_ERR_ABI);
    assert_null(p);
    /* Both versions are named. */
    assert_non_null(strstr(err, "this host speaks ABI 1.1"));
    assert_non_null(strstr(err, "built for ABI 2.3"));
}

static void test_loader_missing_symbol_named(void **state)
{
    struct hl_plugin *p;
    char err[512] = "";
    assert_int_equal(hl_plugin_open(nosym_path, &p, err, sizeof err),
                     LSC_ERR_ABI);
    assert_non_null(strstr(err, "lsc_plugin_entry"));
}

static void test_loader_missing_file(void **state)
{
    struct hl_plugin *p;
    char err[512] = "";
    assert_int_equal(
        hl_plugin_open("/nonexistent/leadscore.so", &p, err, sizeof err),
        LSC_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/leadscore.so"));
}

static void test_loader_create_failure_then_other_plugin(void **state)
{
    struct fake_host h = {.models = model_path};
    struct hl_services svc = services(&h);
    struct hl_plugin *p = NULL;
    char err[512] = "";
    assert_int_equal(hl_plugin_load(failing_path, &svc, &p, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_null(p);
    assert_non_null(strstr(err, "the license file has expired"));
    /* The host goes on: another plugin loads fine. */
    assert_int_equal(hl_plugin_load(toy_path, &svc, &p, err, sizeof err),
                     LSC_OK);
    hl_plugin_close(p);
    hl_plugin_close(NULL);
}

static void test_loader_create_refused_config(void **state)
{
    struct fake_host h = {.models = NULL};
    struct hl_services svc = services(&h);
    struct hl_plugin *p;
    char err[512] = "";
    assert_int_equal(hl_plugin_open(toy_path, &p, err, sizeof err), LSC_OK);
    assert_int_equal(hl_plugin_create(p, &svc, err, sizeof err),
                     LSC_ERR_CONFIG);
    assert_non_null(strstr(err, "no model configured"));
    /* Nothing registered survives a failed create(). */
    assert_false(hl_plugin_handles(p, LSC_EVENT_ACTIVITY));
    /* Fix the config and create again. */
    h.models = model_path;
    assert_int_equal(hl_plugin_create(p, &svc, err, sizeof err), LSC_OK);
    assert_true(hl_plugin_handles(p, LSC_EVENT_ACTIVITY));
    hl_plugin_close(p);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s toy abi2 failing nosym model\n", argv[0]);
        return 2;
    }
    toy_path = argv[1];
    abi2_path = argv[2];
    failing_path = argv[3];
    nosym_path = argv[4];
    model_path = argv[5];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_good_plugin_round_trip),
        cmocka_unit_test(test_loader_refuses_abi_major_2),
        cmocka_unit_test(test_loader_missing_symbol_named),
        cmocka_unit_test(test_loader_missing_file),
        cmocka_unit_test(test_loader_create_failure_then_other_plugin),
        cmocka_unit_test(test_loader_create_refused_config),
    };
    return cmocka_run_group_tests_name("abi_loader", tests, NULL, NULL);
}
