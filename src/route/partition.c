/* partition.c — see partition.h; layout contract in DESIGN.md "Lake layout". */
#include "route/partition.h"
#include "core/err.h"

#include <string.h>

static const unsigned char safe[256] = {
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
	['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
	['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['.'] = 1, ['_'] = 1,
	['-'] = 1,
};

char *kl_hive_put(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s || n == 0) {
		memcpy(o, KL_HIVE_DEFAULT, sizeof KL_HIVE_DEFAULT - 1);
		return o + sizeof KL_HIVE_DEFAULT - 1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (safe[c]) {
			*o++ = (char)c;
		} else {
			o[0] = '%';
			o[1] = hex[c >> 4];
			o[2] = hex[c & 15];
			o += 3;
		}
	}
	return o;
}

int kl_hive_escape(struct kl_buf *out, const char *s, size_t n)
{
	if (kl_buf_reserve(out, kl_hive_max(s ? n : 0)))
		return KL_ENOMEM;
	out->len = (size_t)(kl_hive_put(out->data + out->len, s, n) - out->data);
	return KL_OK;
}

#define KEY(s)                                                                                     \
	{                                                                                          \
		s, sizeof s - 1                                                                    \
	}
const struct kl_partition_key kl_partition_keys[KL_PCOL_COUNT] = {
    [KL_PCOL_EVENT_TYPE] = KEY("event_type"),
    [KL_PCOL_EVENT_SUBTYPE] = KEY("event_subtype"),
    [KL_PCOL_DT] = KEY("dt"),
    [KL_PCOL_HR] = KEY("hr"),
};

size_t kl_partition_value_max(const struct kl_event *ev, enum kl_partition_col c)
{
	switch (c) {
	case KL_PCOL_EVENT_TYPE:
		return kl_hive_max(ev->type.p ? ev->type.n : 0);
	case KL_PCOL_EVENT_SUBTYPE:
		return kl_hive_max(ev->subtype.p ? ev->subtype.n : 0);
	case KL_PCOL_DT:
		return 10;
	default:
		return 2;
	}
}

char *kl_partition_value_put(char *o, const struct kl_event *ev, enum kl_partition_col c)
{
	switch (c) {
	case KL_PCOL_EVENT_TYPE:
		return kl_hive_put(o, ev->type.p, ev->type.n);
	case KL_PCOL_EVENT_SUBTYPE:
		return kl_hive_put(o, ev->subtype.p, ev->subtype.n);
	case KL_PCOL_DT:
		memcpy(o, ev->dt, 10);
		return o + 10;
	default:
		memcpy(o, ev->hr, 2);
		return o + 2;
	}
}

size_t kl_partition_values_max(const struct kl_event *ev)
{
	size_t n = 0;
	for (int c = 0; c < KL_PCOL_COUNT; c++)
		n +=
		    kl_partition_keys[c].len + kl_partition_value_max(ev, (enum kl_partition_col)c);
	return n;
}

static int hexdig(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int kl_hive_unescape(struct kl_buf *out, const char *p, size_t n)
{
	if (n == sizeof KL_HIVE_DEFAULT - 1 && !memcmp(p, KL_HIVE_DEFAULT, n))
		return KL_OK;
	if (n == 0 || kl_buf_reserve(out, n))
		return n ? KL_ENOMEM : KL_EPARSE;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '%') {
			int h = i + 2 < n ? hexdig(p[i + 1]) : -1, l = h >= 0 ? hexdig(p[i + 2]) : -1;
			if (l < 0)
				return KL_EPARSE;
			c = (unsigned char)(h << 4 | l);
			i += 2;
		} else if (!safe[c]) {
			return KL_EPARSE;
		}
		out->data[out->len++] = (char)c;
	}
	return KL_OK;
}

int kl_partition_event(struct kl_buf *out, const struct kl_event *ev)
{
	/* "events" + "/<key>=<value>" per column */
	if (kl_buf_reserve(out, 6 + 2 * KL_PCOL_COUNT + kl_partition_values_max(ev)))
		return KL_ENOMEM;
	char *o = out->data + out->len;
	memcpy(o, "events", 6);
	o += 6;
	for (int c = 0; c < KL_PCOL_COUNT; c++) {
		const struct kl_partition_key *k = &kl_partition_keys[c];
		*o++ = '/';
		memcpy(o, k->name, k->len);
		o += k->len;
		*o++ = '=';
		o = kl_partition_value_put(o, ev, (enum kl_partition_col)c);
	}
	out->len = (size_t)(o - out->data);
	return KL_OK;
}

int kl_partition_key_type(const char *key, size_t n, const char **v, size_t *vn)
{
	const struct kl_partition_key *k = &kl_partition_keys[KL_PCOL_EVENT_TYPE];
	size_t head = 7 + k->len + 1; /* "events/" <name> "=" */
	if (n < head || memcmp(key, "events/", 7) || memcmp(key + 7, k->name, k->len) ||
	    key[7 + k->len] != '=')
		return -1;
	const char *end = memchr(key + head, '/', n - head);
	*v = key + head;
	*vn = (size_t)((end ? end : key + n) - *v);
	return *vn ? 0 : -1;
}

void kl_partition_day(int64_t sec, char out[11])
{
	char dt[32];
	if (sec < 0)
		sec = 0;
	if (sec > 253402300799) /* 9999-12-31T23:59:59Z */
		sec = 253402300799;
	/* the calendar of created_datetime, and thus of the events' dt= */
	kl_format_datetime(sec, 0, 0, dt);
	memcpy(out, dt, 10);
	out[10] = '\0';
}

int kl_partition_error(struct kl_buf *out, const char *reason, const char *dt)
{
	int rc = kl_buf_append(out, "errors/", 7);
	rc = rc ? rc : kl_hive_escape(out, reason, strlen(reason));
	rc = rc ? rc : kl_buf_append(out, "/dt=", 4);
	rc = rc ? rc : kl_buf_append(out, dt, 10);
	return rc;
}
