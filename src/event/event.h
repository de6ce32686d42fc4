/*
 * event.h — parse, validate and enrich one event (the event contract).
 *
 * Input: the raw bytes of one record. kl_event_parse() validates them
 * against the contract in DESIGN.md (strict JSON object, UTF-8, depth and
 * size limits, no repeated top-level keys, event_uuid / event_name /
 * created_at present and well-typed, created_at finite and in range) and
 * computes the derived fields: created_datetime, event_type, event_subtype,
 * and the partition date/hour.
 *
 * Ownership: `struct kl_event` is caller-owned and reused for every record
 * (kl_event_init/cleanup). After a parse, its spans point into the caller's
 * record bytes or into the event's own scratch buffer; they are valid until
 * the next kl_event_parse() on the same struct. No allocation happens per
 * event once buffers have grown to the largest record.
 */
#ifndef KL_EVENT_EVENT_H
#define KL_EVENT_EVENT_H

#include "core/buf.h"
#include "parse/json.h"

#include <stdint.h>

/* Why a record is a dead letter. The names are stable: they are directory
 * names under errors/ and the "error" field of dead-letter lines. */
enum kl_reject {
	KL_REJ_NONE = 0,
	KL_REJ_INVALID_JSON,
	KL_REJ_INVALID_UTF8,
	KL_REJ_TOO_DEEP,
	KL_REJ_TOO_LARGE,
	KL_REJ_NOT_OBJECT,
	KL_REJ_DUPLICATE_KEY,
	KL_REJ_MISSING_FIELD,
	KL_REJ_INVALID_FIELD,
	KL_REJ_INVALID_CREATED_AT,
	KL_REJ_COUNT
};

/* "invalid_json", "invalid_utf8", ... */
const char *kl_reject_name(enum kl_reject r);

/* The longest event_type or event_subtype, in bytes: each becomes a
 * directory name (event_type=<escaped value>), and Hive escaping may triple
 * it; 80 bytes keep every such name under the 255-byte limit of Linux file
 * systems (and a whole key far under S3's 1,024). A longer one is a dead
 * letter (invalid_field), on every entry point, instead of a lake that one
 * deployment can write and another cannot. */
#define KL_EVENT_PART_MAX 80

struct kl_event_limits {
	size_t max_record_bytes; /* default 10 MiB, the Kinesis record maximum */
	unsigned max_depth;      /* default 64 */
};

void kl_event_limits_default(struct kl_event_limits *l);

struct kl_str {
	const char *p;
	size_t n;
};

struct kl_event {
	struct kl_json_doc doc; /* top-level members of the record */
	struct kl_str uuid;     /* decoded event_uuid */
	struct kl_str name;     /* decoded event_name */
	struct kl_str type;     /* first ':' part of name */
	struct kl_str subtype;  /* second part; p == NULL when the name has no ':' */
	int64_t sec;            /* created_at, whole seconds */
	int ms;                 /* milliseconds, 0..999 */
	int has_frac;           /* created_at was not an integer literal */
	char datetime[32];      /* created_datetime: 2026-11-30T14:05:09Z or ...09.123Z */
	size_t datetime_len;
	char dt[11];            /* YYYY-MM-DD, NUL-terminated */
	char hr[3];             /* HH, NUL-terminated */
	int name_esc;           /* name had escapes: parts must be re-escaped on output */
	int has_added;          /* a top-level created_datetime/event_type/event_subtype */

	/* After a rejection: */
	enum kl_reject reject;
	char msg[160];
	size_t err_offset;

	/* private */
	struct kl_buf scratch;
	uint32_t *keyset; /* duplicate-key detection, generation-stamped */
	uint32_t keyset_cap, gen;
	struct kl_str *keys; /* the decoded top-level keys, for the same */
	size_t keys_cap;
};

void kl_event_init(struct kl_event *ev);
void kl_event_cleanup(struct kl_event *ev);

/* Parse and validate p[0..n). Returns KL_REJ_NONE or the reason, with
 * ev->msg and ev->err_offset filled in. */
enum kl_reject kl_event_parse(struct kl_event *ev, const char *p, size_t n,
			      const struct kl_event_limits *lim);

/* A guess, for a cache hint only: where p[0..n)'s event_uuid value
 * probably is, found without parsing — the first "event_uuid" key in the
 * record's first KL_EVENT_PEEK_BYTES bytes, then ':' and a string with no
 * escape. 1 with the value's bytes in *u, *un (inside p), else 0. It may
 * be wrong (the key inside another string, a duplicate key): only
 * kl_event_parse decides, and a caller that compares ev->uuid with the
 * guess (same pointer, same length: the same bytes) may reuse what it
 * computed from it. pipeline.c hashes the guess to fetch the dedup
 * window's index line while the record is parsed. */
#define KL_EVENT_PEEK_BYTES 256
int kl_event_peek_uuid(const char *p, size_t n, const char **u, size_t *un);

/*
 * Append the enriched event to `out`: the original object's bytes, with any
 * top-level members named created_datetime/event_type/event_subtype dropped
 * (computed values win), then the three computed fields. Payload bytes are
 * copied verbatim, except that a newline (in valid JSON only ever
 * whitespace between tokens) becomes a space, so the event stays one line.
 * No newline is added. KL_OK or KL_ENOMEM.
 */
int kl_event_write_json(const struct kl_event *ev, const char *raw, size_t raw_len,
			struct kl_buf *out);

/* What kl_event_write_json() reserves in `out` before it writes, at least
 * what it writes: a copy of its output made elsewhere reserves the same,
 * so the buffer it lands in grows exactly as if it had been written there
 * (pipeline/prep.h). */
size_t kl_event_json_reserve(const struct kl_event *ev, size_t raw_len);

/*
 * Append the enriched event as a row (event/row.h): the members its JSON
 * line (kl_event_write_json) would have, in the same order, each as the
 * same bytes. *json_len gets the length that JSON line would have, so a
 * buffer of rows can count what its JSON lines would (--max-file-bytes).
 * No newline is added. KL_OK or KL_ENOMEM.
 */
int kl_event_write_row(const struct kl_event *ev, const char *raw, size_t raw_len,
		       struct kl_buf *out, uint64_t *json_len);

/* What kl_event_write_row() reserves in `out` before it writes (as
 * kl_event_json_reserve for kl_event_write_json). */
size_t kl_event_row_reserve(const struct kl_event *ev, size_t raw_len);

/* Append s as a JSON string body (no quotes), escaping " \ and controls. */
int kl_json_escape_append(struct kl_buf *out, const char *s, size_t n);
/* The same for text that need not be UTF-8 (a file name, a message that
 * quotes input): a byte that starts no valid UTF-8 sequence becomes
 * \ufffd, so the JSON written is always valid. */
int kl_json_escape_text_append(struct kl_buf *out, const char *s, size_t n);

/* Format unix seconds + ms as ISO 8601 UTC; with_ms adds ".mmm". Returns length. */
size_t kl_format_datetime(int64_t sec, int ms, int with_ms, char out[32]);

#endif
