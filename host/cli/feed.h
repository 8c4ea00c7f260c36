/*
 * The CLI's input feed: JSON Lines read and decoded ahead in batches,
 * each line with its typed event and the hashes of its ids.
 *
 * With a reader thread (two CPUs), lines are read and decoded on that
 * thread while the caller applies earlier batches; without one, on the
 * caller's thread when it asks for a batch ahead.  Either way the caller
 * sees the same batches in the same order, with the same events and
 * messages.
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

/* What the caller needs of a decoded line before it applies it: the
 * hashes of its ids (for read-ahead and lookups, computed once). */
struct cli_hint {
    uint64_t contact_hash; /* hl_contacts_hash(ev.contact_id) */
    uint64_t event_hash;   /* hl_dedup_hash of ev.event_id, when set */
    bool activity; /* a "type" not "contact.*": the contact's properties
                      are not read (unless its state is stale) */
    bool exact;    /* the line decoded: the hashes are set */
};

/* One line of a batch, owned by the feed. */
struct cli_feed_line {
    char *text;    /* a line that did not lie whole in the read buffer,
                      copied (a line is decoded where it is read) */
    size_t cap;
    ssize_t n;     /* length; -2: out of memory reading it */
    bool too_long; /* longer than the limit: text is empty */
    bool blank;    /* only white space: not an event */
    struct cli_hint h;
    /* Not blank, not too long: */
    enum lsc_status st; /* LSC_OK: ev is valid; else err says why */
    struct lsc_event ev; /* pointers owned by the feed */
    char err[1024];
    /* The copy of ev's strings and props. */
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
 * batches up to j + `ahead` are read and decoded (where the input has
 * them) and can be seen with cli_feed_peek.
 */
size_t cli_feed_get(struct cli_feed *f, uint64_t j, unsigned ahead,
                    struct cli_feed_line **lines);

/* The lines of batch j, already read by cli_feed_get of an earlier batch
 * with enough `ahead` (0 lines otherwise); borrowed, to read ahead. */
size_t cli_feed_peek(struct cli_feed *f, uint64_t j,
                     const struct cli_feed_line **lines);

/* Done with batch j: its place can take a later batch. */
void cli_feed_release(struct cli_feed *f, uint64_t j);

/* Stops the reader, frees the feed; returns the errno of a failed read
 * (0: none).  Accepts NULL. */
int cli_feed_close(struct cli_feed *f);

/* Whether a reader thread pays: the process may run on two CPUs. */
bool cli_feed_threads_useful(void);

#endif /* LSC_CLI_FEED_H */
