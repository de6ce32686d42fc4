/* partition.c — see partition.h; layout contract in DESIGN.md "Lake layout". */
#include "route/partition.h"
#include "core/err.h"

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

int kl_hive_escape(struct kl_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s || n == 0)
		return kl_buf_append(out, KL_HIVE_DEFAULT, sizeof KL_HIVE_DEFAULT - 1);
	if (kl_buf_reserve(out, n * 3))
		return KL_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (safe[c]) {
			out->data[out->len++] = (char)c;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			kl_buf_put(out, e, 3);
		}
	}
	return KL_OK;
}

int kl_partition_event(struct kl_buf *out, const struct kl_event *ev)
{
	int rc = kl_buf_append(out, "events/event_type=", 18);
	rc = rc ? rc : kl_hive_escape(out, ev->type.p, ev->type.n);
	rc = rc ? rc : kl_buf_append(out, "/event_subtype=", 15);
	rc = rc ? rc : kl_hive_escape(out, ev->subtype.p, ev->subtype.n);
	rc = rc ? rc : kl_buf_append(out, "/dt=", 4);
	rc = rc ? rc : kl_buf_append(out, ev->dt, 10);
	rc = rc ? rc : kl_buf_append(out, "/hr=", 4);
	rc = rc ? rc : kl_buf_append(out, ev->hr, 2);
	return rc;
}

int kl_partition_error(struct kl_buf *out, const char *reason, const char *dt)
{
	int rc = kl_buf_append(out, "errors/", 7);
	rc = rc ? rc : kl_hive_escape(out, reason, strlen(reason));
	rc = rc ? rc : kl_buf_append(out, "/dt=", 4);
	rc = rc ? rc : kl_buf_append(out, dt, 10);
	return rc;
}
