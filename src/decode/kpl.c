/*
 * kpl.c — KPL aggregated-record decoder (aggregation-format.md of
 * awslabs/amazon-kinesis-producer) over a minimal protobuf wire-format
 * reader (protobuf.dev/programming-guides/encoding).
 *
 * Decoding is two walks over the AggregatedRecord message: the first checks
 * its wire format, collects both key tables and counts the Record fields (the
 * tables may come after the records: protobuf does not order fields); the
 * second parses each Record and resolves its key indexes into spans.
 */
#include "decode/kpl.h"

#include "core/err.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* ---- protobuf wire format ---------------------------------------------- */

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

#define PB_MAX_GROUP_DEPTH 64

/* A cursor over one message: p..end. Every reader returns 0, or -1 when the
 * bytes are malformed (the cursor is then meaningless). */
struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *r, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (r->p == r->end)
			return -1;
		uint8_t b = *r->p++;
		if (i == 9 && b > 1) /* an 11th byte, or bits beyond 64 */
			return -1;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int pb_tag(struct pb *r, uint32_t *field, unsigned *wt)
{
	uint64_t v;
	if (pb_varint(r, &v) || v > UINT32_MAX)
		return -1;
	*field = (uint32_t)(v >> 3);
	*wt = (unsigned)(v & 7);
	return *field == 0 || *wt > PB_I32 ? -1 : 0;
}

static int pb_fixed(struct pb *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -1;
	r->p += n;
	return 0;
}

/* A length-delimited payload: sets *sub to it and moves past it. */
static int pb_len(struct pb *r, struct pb *sub)
{
	uint64_t n;
	if (pb_varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return -1;
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return 0;
}

/* Skip a field that is not a group, after its tag. */
static int pb_skip_flat(struct pb *r, unsigned wt)
{
	uint64_t v;
	struct pb sub;
	switch (wt) {
	case PB_VARINT:
		return pb_varint(r, &v);
	case PB_I64:
		return pb_fixed(r, 8);
	case PB_LEN:
		return pb_len(r, &sub);
	case PB_I32:
		return pb_fixed(r, 4);
	default:
		return -1;
	}
}

/* Skip an unknown field after its tag. A group runs to the end-group tag
 * of the same field number; nested groups are tracked on a bounded stack. */
static int pb_skip(struct pb *r, uint32_t field, unsigned wt)
{
	if (wt == PB_EGROUP)
		return -1; /* an end-group tag that closes nothing */
	if (wt != PB_SGROUP)
		return pb_skip_flat(r, wt);
	uint32_t open[PB_MAX_GROUP_DEPTH];
	size_t depth = 0;
	open[depth++] = field;
	while (depth) {
		if (pb_tag(r, &field, &wt))
			return -1;
		if (wt == PB_SGROUP) {
			if (depth == PB_MAX_GROUP_DEPTH)
				return -1;
			open[depth++] = field;
		} else if (wt == PB_EGROUP) {
			if (open[--depth] != field)
				return -1;
		} else if (pb_skip_flat(r, wt)) {
			return -1;
		}
	}
	return 0;
}

/* ---- AggregatedRecord ---------------------------------------------------- */

static const char BAD_PB[] = "bad protobuf";
static const char MISSING[] = "missing required field";
static const char RANGE[] = "key index out of range";

/* Grow *arr (of `size`-byte elements) to hold at least `need`. */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return KL_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return KL_ENOMEM;
		c *= 2;
	}
	if (c > SIZE_MAX / size)
		return KL_ENOMEM;
	void *p = realloc(*arr, c * size);
	if (!p)
		return KL_ENOMEM;
	*arr = p;
	*cap = c;
	return KL_OK;
}

/* Tag { required string key = 1; optional string value = 2; } */
static const char *check_tag(struct pb r)
{
	int has_key = 0;
	while (r.p < r.end) {
		uint32_t f;
		unsigned wt;
		struct pb s;
		if (pb_tag(&r, &f, &wt))
			return BAD_PB;
		if (f == 1 && wt == PB_LEN) {
			if (pb_len(&r, &s))
				return BAD_PB;
			has_key = 1;
		} else if (pb_skip(&r, f, wt)) { /* value (2) is not needed */
			return BAD_PB;
		}
	}
	return has_key ? NULL : MISSING;
}

struct raw_record {
	uint64_t pki, ehki;
	struct pb data;
	int has_pki, has_ehki, has_data;
};

/* Record { required uint64 partition_key_index = 1; optional uint64
 * explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; } */
static const char *parse_record(struct pb r, struct raw_record *o)
{
	memset(o, 0, sizeof *o);
	while (r.p < r.end) {
		uint32_t f;
		unsigned wt;
		struct pb s;
		const char *why;
		if (pb_tag(&r, &f, &wt))
			return BAD_PB;
		if (f == 1 && wt == PB_VARINT) {
			if (pb_varint(&r, &o->pki))
				return BAD_PB;
			o->has_pki = 1;
		} else if (f == 2 && wt == PB_VARINT) {
			if (pb_varint(&r, &o->ehki))
				return BAD_PB;
			o->has_ehki = 1;
		} else if (f == 3 && wt == PB_LEN) {
			if (pb_len(&r, &o->data))
				return BAD_PB;
			o->has_data = 1;
		} else if (f == 4 && wt == PB_LEN) {
			if (pb_len(&r, &s))
				return BAD_PB;
			if ((why = check_tag(s)))
				return why;
		} else if (pb_skip(&r, f, wt)) {
			return BAD_PB;
		}
	}
	return o->has_pki && o->has_data ? NULL : MISSING;
}

static int push_key(struct kl_kpl_key **tab, size_t *cap, size_t *n, struct pb s)
{
	int rc = grow((void **)tab, cap, *n + 1, sizeof **tab);
	if (rc)
		return rc;
	(*tab)[(*n)++] = (struct kl_kpl_key){(const char *)s.p, (size_t)(s.end - s.p)};
	return KL_OK;
}

/* First walk: wire format, key tables, number of records. Returns KL_OK with
 * *why NULL or a reason to pass the input through, or KL_ENOMEM. */
static int scan(struct kl_kpl *k, struct pb r, size_t *npk, size_t *nehk, size_t *nrec,
		const char **why)
{
	*npk = *nehk = *nrec = 0;
	*why = NULL;
	while (r.p < r.end) {
		uint32_t f;
		unsigned wt;
		struct pb s;
		int rc = KL_OK;
		if (pb_tag(&r, &f, &wt))
			goto bad;
		if (wt != PB_LEN || f > 3) {
			if (pb_skip(&r, f, wt))
				goto bad;
			continue;
		}
		if (pb_len(&r, &s))
			goto bad;
		if (f == 1)
			rc = push_key(&k->pk, &k->pk_cap, npk, s);
		else if (f == 2)
			rc = push_key(&k->ehk, &k->ehk_cap, nehk, s);
		else if (*nrec > UINT32_MAX) /* sub_index is 32-bit */
			return *why = "too many records", KL_OK;
		else
			++*nrec;
		if (rc)
			return rc;
	}
	return KL_OK;
bad:
	*why = BAD_PB;
	return KL_OK;
}

/* Second walk: parse every Record into k->rec. Returns NULL or a reason. */
static const char *fill(struct kl_kpl *k, struct pb r, size_t npk, size_t nehk)
{
	size_t i = 0;
	while (r.p < r.end) {
		uint32_t f;
		unsigned wt;
		struct pb s;
		struct raw_record raw;
		const char *why;
		if (pb_tag(&r, &f, &wt))
			return BAD_PB;
		if (wt != PB_LEN || f != 3) {
			if (pb_skip(&r, f, wt))
				return BAD_PB;
			continue;
		}
		if (pb_len(&r, &s))
			return BAD_PB;
		if ((why = parse_record(s, &raw)))
			return why;
		if (raw.pki >= npk || (raw.has_ehki && raw.ehki >= nehk))
			return RANGE;
		struct kl_kpl_record *o = &k->rec[i];
		o->data = raw.data.p;
		o->len = (size_t)(raw.data.end - raw.data.p);
		o->partition_key = k->pk[raw.pki].p;
		o->pk_len = k->pk[raw.pki].n;
		o->explicit_hash_key = raw.has_ehki ? k->ehk[raw.ehki].p : NULL;
		o->ehk_len = raw.has_ehki ? k->ehk[raw.ehki].n : 0;
		o->sub_index = (uint32_t)i;
		i++;
	}
	return NULL;
}

static int md5(struct kl_kpl *k, const uint8_t *p, size_t n, unsigned char out[KL_KPL_MD5_LEN])
{
	unsigned len = 0;
	if (!k->md && !(k->md = EVP_MD_fetch(NULL, "MD5", NULL)))
		return KL_EUNSUPPORTED;
	if (!k->md_ctx && !(k->md_ctx = EVP_MD_CTX_new()))
		return KL_ENOMEM;
	if (!EVP_DigestInit_ex2(k->md_ctx, k->md, NULL) || !EVP_DigestUpdate(k->md_ctx, p, n) ||
	    !EVP_DigestFinal_ex(k->md_ctx, out, &len) || len != KL_KPL_MD5_LEN)
		return KL_ENOMEM;
	return KL_OK;
}

/* ---- public ------------------------------------------------------------- */

void kl_kpl_init(struct kl_kpl *k)
{
	memset(k, 0, sizeof *k);
}

void kl_kpl_cleanup(struct kl_kpl *k)
{
	free(k->rec);
	free(k->pk);
	free(k->ehk);
	EVP_MD_CTX_free(k->md_ctx);
	EVP_MD_free(k->md);
	memset(k, 0, sizeof *k);
}

int kl_kpl_decode(struct kl_kpl *k, const uint8_t *p, size_t n, const struct kl_kpl_record **out,
		  size_t *count, int *aggregated, const char **reason)
{
	const char *why = "not aggregated";
	unsigned char digest[KL_KPL_MD5_LEN];
	size_t npk, nehk, nrec;
	int rc;

	*out = &k->one;
	*count = 0;
	if (aggregated)
		*aggregated = 0;
	if (reason)
		*reason = NULL;
	if (n < KL_KPL_MAGIC_LEN || memcmp(p, KL_KPL_MAGIC, KL_KPL_MAGIC_LEN) != 0)
		goto pass;
	if (n < KL_KPL_MAGIC_LEN + KL_KPL_MD5_LEN) {
		why = "truncated";
		goto pass;
	}
	struct pb body = {p + KL_KPL_MAGIC_LEN, p + n - KL_KPL_MD5_LEN};
	if ((rc = md5(k, body.p, (size_t)(body.end - body.p), digest)))
		return rc;
	if (memcmp(digest, body.end, KL_KPL_MD5_LEN) != 0) {
		why = "md5 mismatch";
		goto pass;
	}
	if ((rc = scan(k, body, &npk, &nehk, &nrec, &why)))
		return rc;
	if (why)
		goto pass;
	if ((rc = grow((void **)&k->rec, &k->rec_cap, nrec, sizeof *k->rec)))
		return rc;
	if ((why = fill(k, body, npk, nehk)))
		goto pass;
	if (nrec)
		*out = k->rec;
	*count = nrec;
	if (aggregated)
		*aggregated = 1;
	return KL_OK;
pass:
	k->one = (struct kl_kpl_record){.data = p, .len = n};
	*count = 1;
	if (reason)
		*reason = why;
	return KL_OK;
}
