/*
 * Test helper: start tests/fakes/hubspot/fake_hubspot as a child process,
 * talk to its control endpoints, stop it.  Loopback only.
 */
#ifndef LSC_TESTS_FAKE_PROC_H
#define LSC_TESTS_FAKE_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

struct fake_proc {
    pid_t pid;
    int stdin_fd;  /* closing it stops the fake */
    int port;
    char base[64]; /* "http://127.0.0.1:<port>" */
};

/* exe: path of fake_hubspot; extra: NULL-terminated extra arguments.
 * Waits (at most 10 s) for its "PORT n" line.  false on failure. */
bool fake_start(struct fake_proc *f, const char *exe,
                const char *const *extra);
void fake_stop(struct fake_proc *f);

/* POST body (JSON text) to /_fake/<what>; returns the HTTP status. */
long fake_control(struct fake_proc *f, const char *what, const char *body);
/* GET /_fake/<what>; a new reference or NULL. */
json_t *fake_get(struct fake_proc *f, const char *what);
/* The recorded requests whose path contains `needle` (NULL: all); new
 * reference to an array. */
json_t *fake_requests(struct fake_proc *f, const char *needle);

/* A curl write callback (CURLOPT_WRITEFUNCTION) appending to a
 * fake_buf, kept NUL-terminated; the caller frees p. */
struct fake_buf {
    char *p;
    size_t n;
};
size_t fake_buf_write(char *d, size_t s, size_t m, void *ud);

#endif
