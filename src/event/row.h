/*
 * row.h — the pre-split form of an enriched event ("row") that a Parquet
 * partition's buffer holds instead of its JSON line.
 *
 * A Parquet partition's buffer is internal (no file is made of it), and its
 * only reader, the Parquet encoder, needs each event's top-level members:
 * key, value, JSON type and a few flags. The prep step has them already
 * (kl_json_parse's doc), so it writes them down, and the encoder walks
 * lengths instead of splitting JSON text again (bench/README.md, session
 * 19). Keys and values stay the exact JSON bytes a JSON line would hold
 * (keys without their quotes, escapes undecoded; a string value with its
 * quotes; numbers, literals, objects and arrays as written), so every
 * value is encoded from the same bytes either way and the files are the
 * same.
 *
 * The form: the byte KL_ROW_MARK (a JSON line never starts with it), then
 * per member: the key's length, the key, a flags byte, the value's length,
 * the value. A length is little-endian 6-bit digits, each in a byte of its
 * own: 0x80 | digit while more follow, 0xC0 | digit for the last. The flags
 * byte is 0x80 | type (enum kl_json_type, 3 bits) | key_esc << 3 |
 * val_esc << 4 | val_ws << 5. So no byte outside keys and values is below
 * 0x80 — in particular none is '\n', and a buffer of rows is still cut
 * into records at newlines like one of JSON lines (keys and values are
 * JSON-line bytes, which hold no newline).
 *
 * kl_event_write_row (event/event.h) writes the row of an event;
 * kl_row_split reads one back into a kl_json_doc, with the same members,
 * in the same order, as kl_json_split_valid gives for the event's JSON
 * line (tests/unit/test_event.c compares them; fuzz/fuzz_row.c).
 *
 * Ownership: kl_row_split's members point into the caller's row, which
 * must outlive them; the doc is the caller's (kl_json_doc_init/cleanup).
 */
#ifndef KL_EVENT_ROW_H
#define KL_EVENT_ROW_H

#include "core/buf.h"
#include "parse/json.h"

#include <stddef.h>
#include <string.h>

#define KL_ROW_MARK 0xFEu

/* Digits a length takes at most (6 bits each: lengths below 2^36). */
#define KL_ROW_LEN_MAX 6

/* Is the record p[0..n) a row (rather than a JSON line)? */
static inline int kl_row_is(const char *p, size_t n)
{
	return n > 0 && (unsigned char)p[0] == KL_ROW_MARK;
}

/* Bytes kl_row_put appends at most for a member of these lengths. */
static inline size_t kl_row_member_max(size_t key_len, size_t val_len)
{
	return key_len + val_len + 2 * KL_ROW_LEN_MAX + 1;
}

static inline void kl_row_put_len_(struct kl_buf *out, size_t v)
{
	unsigned char *o = (unsigned char *)out->data + out->len;
	size_t k = 0;
	while (v >= 64) {
		o[k++] = (unsigned char)(0x80 | (v & 63));
		v >>= 6;
	}
	o[k++] = (unsigned char)(0xC0 | v);
	out->len += k;
}

/* kl_row_put without the value's bytes (m->val is not read; m->val_len
 * is): the caller appends exactly m->val_len of them next. Inline: the
 * prep step puts every member of every event. */
static inline void kl_row_put_head(struct kl_buf *out, const struct kl_json_member *m)
{
	kl_row_put_len_(out, m->key_len);
	memcpy(out->data + out->len, m->key, m->key_len);
	out->len += m->key_len;
	out->data[out->len++] = (char)(0x80 | (m->type & 7) | (m->key_esc ? 8 : 0) |
				       (m->val_esc ? 16 : 0) | (m->val_ws ? 32 : 0));
	kl_row_put_len_(out, m->val_len);
}

/* Append member m (key, value, type and flags); out must have room for
 * kl_row_member_max(m->key_len, m->val_len) more bytes. */
static inline void kl_row_put(struct kl_buf *out, const struct kl_json_member *m)
{
	kl_row_put_head(out, m);
	memcpy(out->data + out->len, m->val, m->val_len);
	out->len += m->val_len;
}

/* Read the row p[0..n) (no trailing newline) into doc: its members, in
 * order, with start = key (there are no quotes), and doc->top =
 * KL_JSON_OBJECT. 0, or -1 when p is not a whole row or doc cannot grow. */
int kl_row_split(const char *p, size_t n, struct kl_json_doc *doc);

#endif
