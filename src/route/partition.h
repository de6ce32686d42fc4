/*
 * partition.h — the lake layout: where an event or a dead letter lives.
 *
 * Builds partition prefixes (relative to the lake root):
 *   events/event_type=<t>/event_subtype=<s>/dt=<YYYY-MM-DD>/hr=<HH>
 *   errors/<reason>/dt=<YYYY-MM-DD>
 * Values are Hive-escaped: every byte outside [A-Za-z0-9._-] becomes %XX
 * (upper-case hex), so no value can add a path level or climb out with
 * "/" or ".."; an empty or null value is __HIVE_DEFAULT_PARTITION__.
 * Partition values come from event time, never arrival time.
 *
 * Functions append to a caller-owned kl_buf; nothing else is owned.
 */
#ifndef KL_ROUTE_PARTITION_H
#define KL_ROUTE_PARTITION_H

#include "core/buf.h"
#include "event/event.h"

#define KL_HIVE_DEFAULT "__HIVE_DEFAULT_PARTITION__"

/* Append the Hive-escaped form of s (NULL or empty -> KL_HIVE_DEFAULT). */
int kl_hive_escape(struct kl_buf *out, const char *s, size_t n);

/* Append the events/... prefix of a parsed event. */
int kl_partition_event(struct kl_buf *out, const struct kl_event *ev);

/* Append the errors/<reason>/dt=<date> prefix of a dead letter. */
int kl_partition_error(struct kl_buf *out, const char *reason, const char *dt);

#endif
