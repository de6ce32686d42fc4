/*
 * partition.h — the lake layout: where an event or a dead letter lives.
 *
 * The one implementation of the layout contract (DESIGN.md "Lake layout")
 * for every entry point: `ingest` (file and stream) and the Kinesis
 * event-source-mapping Lambda route through kl_partition_event() /
 * kl_partition_error(); the Firehose transformation Lambda returns the same
 * columns and values as its partition keys (kl_partition_keys[] and
 * kl_partition_value_put()), which the delivery stream's S3 prefix puts into
 * the same path (docs/lambda.md); the schema registry names its files with
 * kl_hive_escape().
 *
 * Builds partition prefixes (relative to the lake root):
 *   events/event_type=<t>/event_subtype=<s>/dt=<YYYY-MM-DD>/hr=<HH>
 *   errors/<reason>/dt=<YYYY-MM-DD>
 * Values are Hive-escaped: every byte outside [A-Za-z0-9._-] becomes %XX
 * (upper-case hex), so no value can add a path level or climb out with
 * "/" or ".."; an empty or null value is __HIVE_DEFAULT_PARTITION__.
 * An event's dt/hr come from its event time (created_at, the same UTC
 * calendar as created_datetime), never arrival time; a dead letter's dt is
 * its record's arrival day, formatted by kl_partition_day().
 *
 * Functions append to a caller-owned kl_buf, or write into room the caller
 * reserved (the _put forms, for hot paths); nothing else is owned.
 */
#ifndef KL_ROUTE_PARTITION_H
#define KL_ROUTE_PARTITION_H

#include "core/buf.h"
#include "event/event.h"

#include <stdint.h>

#define KL_HIVE_DEFAULT "__HIVE_DEFAULT_PARTITION__"

/* Upper bound of the Hive-escaped length of an n-byte value. */
static inline size_t kl_hive_max(size_t n)
{
	return n * 3 > sizeof KL_HIVE_DEFAULT - 1 ? n * 3 : sizeof KL_HIVE_DEFAULT - 1;
}

/* Write the Hive-escaped form of s (NULL or empty -> KL_HIVE_DEFAULT) at o,
 * which has room for kl_hive_max(n) bytes; returns the end of what was
 * written. The escaping itself: every other function here calls it. */
char *kl_hive_put(char *o, const char *s, size_t n);

/* Append the Hive-escaped form of s (NULL or empty -> KL_HIVE_DEFAULT). A
 * value that is KL_HIVE_DEFAULT itself stays as it is (all of its bytes are
 * safe), so it names the null partition too, as in Hive (DESIGN.md's rule;
 * e2e/paths_agree has such an event). */
int kl_hive_escape(struct kl_buf *out, const char *s, size_t n);

/* The partition columns under events/, in path order. Firehose dynamic
 * partitioning receives them as partitionKeys of these names. */
enum kl_partition_col {
	KL_PCOL_EVENT_TYPE,
	KL_PCOL_EVENT_SUBTYPE,
	KL_PCOL_DT,
	KL_PCOL_HR,
	KL_PCOL_COUNT
};

struct kl_partition_key {
	const char *name; /* "event_type", "event_subtype", "dt", "hr" */
	size_t len;
};

extern const struct kl_partition_key kl_partition_keys[KL_PCOL_COUNT];

/* Upper bound of kl_partition_value_put()'s output for column c of ev. */
size_t kl_partition_value_max(const struct kl_event *ev, enum kl_partition_col c);

/* Write the (escaped) value of column c of ev at o, which has room for
 * kl_partition_value_max() bytes; returns the end. The value's bytes are
 * [A-Za-z0-9._%-] only: safe in a path, a JSON string or an S3 key. */
char *kl_partition_value_put(char *o, const struct kl_event *ev, enum kl_partition_col c);

/* Sum of the key names and value bounds of every column of ev: a writer
 * adds its own separators per column. */
size_t kl_partition_values_max(const struct kl_event *ev);

/* Append the value that kl_hive_escape() turned into p[0..n) (the default
 * partition gives nothing: the empty or null value). KL_EPARSE if p is not
 * something kl_hive_escape() writes (a byte outside [A-Za-z0-9._-] unescaped,
 * a bad or lower-case %XX, empty), KL_ENOMEM. */
int kl_hive_unescape(struct kl_buf *out, const char *p, size_t n);

/* Append the events/... prefix of a parsed event. */
int kl_partition_event(struct kl_buf *out, const struct kl_event *ev);

/* The event_type value of a kl_partition_event() prefix key[0..n), still
 * Hive-escaped: *v and *vn point into key. -1 if key is not such a prefix
 * (a dead letters' errors/... one). */
int kl_partition_key_type(const char *key, size_t n, const char **v, size_t *vn);

/* The dt= value of a dead letter dated at Unix time `sec`: its UTC day,
 * "YYYY-MM-DD", NUL-terminated (times outside 1970..9999 are clamped). */
void kl_partition_day(int64_t sec, char out[11]);

/* Append the errors/<reason>/dt=<date> prefix of a dead letter. */
int kl_partition_error(struct kl_buf *out, const char *reason, const char *dt);

#endif
