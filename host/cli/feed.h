/*
 * The CLI's input feed: JSON Lines read ahead in batches, with cache
 * hints for each line and, once decoded, its typed event.
 *
 * With a reader thread (two CPUs), lines are read and decoded on that
 * thread while the caller applies earlier batches; without one, the
 * caller's thread reads ahead and decodes a batch just before applying
 * it.  Either way the caller sees the same batches in the same order,
 * with the same events and messages.
 */
#ifndef LSC_CLI_FEED_H
#define LSC_CLI_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <leadscore/plugin.h>

/* Lines in a batch (read, decoded and applied together). */
#define CLI_FEED_BATCH 8

/* Hints of one line: the raw text of its top-level-looking "contact" and
 * "id" string members and their hashes (the ids hash the same as the
 * decoded strings).  Cache hints only: a wrong or missed one costs time,
 * never a result, since the caller compares before it reuses a hash. */
struct cli_hint {
    const char *contact, *event; /* NULL: not found */
    size_t contact_len, event_len;
    uint64_t contact_hash, event_hash;
    bool activity; /* a "type" not "contact.*": the contact's properties
                      are not read (unless its state is stale) */
    bool exact;    /* once decoded: contact_hash (and event_hash, with an
                      event id) are the hashes of the decoded ids */
};

/* One line of a batch, owned by the feed. */
struct cli_feed_line {
    char *text;    /* NUL-terminated, with its '\n'; kept only without
                      a reader thread (it decodes a line where it reads it) */
    size_t cap;
    ssize_t n;     /* length; -2: out of memory reading it */
    bool too_long; /* longer than the limit: text is empty */
    bool blank;    /* only white space: not an event */
    struct cli_hint h; /* points into text */
    /* After cli_feed_decode (not blank, not too long): */
    enum lsc_status st; /* LSC_OK: ev is valid; else err says why */
    struct lsc_event ev; /* pointers owned by the feed */
    char err[1024];
    /* The reader thread's copy of ev's strings and props. */
    char *store;
    size_t store_cap;
    struct lsc_prop *props;
    size_t props_cap;
};

struct cli_feed;

/*
 * A feed over `fd` (borrowed; not closed), rejecting lines longer than
 * `max_line` bytes.  `threaded`: read and decode on a thread of its own
 * (falls back to none when it cannot be started).  Returns NULL when out
 * of memory.  Owned by the caller: cli_feed_close.
 */
struct cli_feed *cli_feed_open(int fd, size_t max_line, bool threaded);

/*
 * Batch `j` (0, 1, ... in order), read ahead of it: *lines gets its lines
 * (borrowed until cli_feed_release(j)) and the count is returned, fewer
 * than CLI_FEED_BATCH only for the last batch (0: past the end).  The
 * batches up to j + `ahead` are read (where the input has them) and
 * their hints can be seen with cli_feed_peek.  The lines of batch j are
 * not decoded yet unless cli_feed_decode is called.
 */
size_t cli_feed_get(struct cli_feed *f, uint64_t j, unsigned ahead,
                    struct cli_feed_line **lines);

/* The lines of batch j, already read by cli_feed_get of an earlier batch
 * with enough `ahead` (0 lines otherwise); borrowed, for hints only. */
size_t cli_feed_peek(struct cli_feed *f, uint64_t j,
                     const struct cli_feed_line **lines);

/* Decode the lines of batch j (got from cli_feed_get) into st/ev/err;
 * done already by the reader thread when there is one. */
void cli_feed_decode(struct cli_feed *f, uint64_t j);

/* Done with batch j: its place can take a later batch. */
void cli_feed_release(struct cli_feed *f, uint64_t j);

/* Stops the reader, frees the feed; returns the errno of a failed read
 * (0: none).  Accepts NULL. */
int cli_feed_close(struct cli_feed *f);

/* Whether a reader thread pays: the process may run on two CPUs. */
bool cli_feed_threads_useful(void);

#endif /* LSC_CLI_FEED_H */
