/*
 * Start and drive tests/fakes/mailchimp/fake_mailchimp from a test.
 */
#ifndef LSC_TEST_MC_FAKE_PROC_H
#define LSC_TEST_MC_FAKE_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#define FAKE_API_KEY "fakekey0123456789-us1"

struct fake_proc {
    pid_t pid;
    int in_fd;  /* the fake's stdin: closing it stops the fake */
    unsigned port;
    char base[64];     /* http://127.0.0.1:PORT */
    char api_base[80]; /* base + /3.0 */
};

/* argv[1] of the test is the fake's path.  Waits at most 10 s for the
 * port.  Returns false on failure. */
bool fake_start(const char *exe, struct fake_proc *f, const char *const *args);
void fake_stop(struct fake_proc *f);

/* Control request; returns the HTTP status, *out (may be NULL) gets the
 * parsed JSON answer (caller decrefs). */
long fake_ctl(const struct fake_proc *f, const char *method, const char *path,
              const char *body, json_t **out);

/* One API request with Basic auth (`key`, NULL: FAKE_API_KEY) and a raw
 * body (may be NULL).  Returns the HTTP status; *out (may be NULL) gets
 * the parsed answer (caller decrefs), content_type / request_id
 * (caller-owned, may be NULL) the headers. */
long fake_api(const struct fake_proc *f, const char *method,
              const char *path, const char *body, const char *key,
              json_t **out, char *content_type, size_t ctlen,
              char *request_id, size_t ridlen);

/* The recorded API requests (new reference, the "requests" array). */
json_t *fake_requests(const struct fake_proc *f);
/* The stored member (new reference) or NULL. */
json_t *fake_member(const struct fake_proc *f, const char *list,
                    const char *email);
/* True if the member has the tag. */
bool fake_member_has_tag(json_t *member, const char *tag);

#endif
