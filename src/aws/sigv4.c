/* sigv4.c — see sigv4.h. */
#include "aws/sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char HEX[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexl[p[i] >> 4];
		out[2 * i + 1] = hexl[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void kl_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(n ? p : "", n, md, &mdlen, EVP_sha256(), NULL);
	to_hex(md, 32, hex);
}

/* SHA-256 for one signature: the algorithm fetched once and one context
 * for the canonical request's hash and the five HMACs (OpenSSL 3 looks the
 * algorithm up again on every one-shot HMAC() or EVP_Digest() with
 * EVP_sha256(): most of their cost on inputs this small). */
struct sha {
	EVP_MD *md;
	EVP_MD_CTX *c;
};

static int sha_open(struct sha *s)
{
	s->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->c = EVP_MD_CTX_new();
	return s->md && s->c ? KL_OK : KL_ENOMEM;
}

static void sha_close(struct sha *s)
{
	EVP_MD_CTX_free(s->c);
	EVP_MD_free(s->md);
}

/* SHA-256 of a || b. */
static int sha2(struct sha *s, const void *a, size_t an, const void *b, size_t bn,
		unsigned char out[32])
{
	unsigned int len = 0;
	return EVP_DigestInit_ex2(s->c, s->md, NULL) && EVP_DigestUpdate(s->c, a, an) &&
		       EVP_DigestUpdate(s->c, b, bn) && EVP_DigestFinal_ex(s->c, out, &len) &&
		       len == 32
		   ? KL_OK
		   : KL_ENOMEM;
}

/* HMAC-SHA256 (RFC 2104: a 64-byte block, longer keys hashed first). */
static int hmac(struct sha *s, const void *key, size_t klen, const void *msg, size_t mlen,
		unsigned char out[32])
{
	unsigned char k[64] = {0}, pad[64], inner[32];
	int rc = KL_OK;
	if (klen > sizeof k)
		rc = sha2(s, key, klen, "", 0, k);
	else
		memcpy(k, key, klen);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k[i] ^ 0x36;
	rc = rc ? rc : sha2(s, pad, sizeof pad, msg, mlen, inner);
	for (size_t i = 0; i < sizeof pad; i++)
		pad[i] = k[i] ^ 0x5c;
	rc = rc ? rc : sha2(s, pad, sizeof pad, inner, sizeof inner, out);
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(pad, sizeof pad);
	OPENSSL_cleanse(inner, sizeof inner);
	return rc;
}

void kl_sigv4_format_time(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Encode, optionally keeping existing valid %XX escapes (S3 path rule). */
static int encode(struct kl_buf *out, const char *s, size_t n, int keep_slash, int keep_escapes)
{
	int rc = kl_buf_reserve(out, 3 * n + 1);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (c == '/' && keep_slash)) {
			out->data[out->len++] = (char)c;
		} else if (c == '%' && keep_escapes && i + 2 < n &&
			   hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out->data[out->len++] = '%';
			out->data[out->len++] = HEX[hexval(s[i + 1])];
			out->data[out->len++] = HEX[hexval(s[i + 2])];
			i += 2;
		} else {
			out->data[out->len++] = '%';
			out->data[out->len++] = HEX[c >> 4];
			out->data[out->len++] = HEX[c & 15];
		}
	}
	return KL_OK;
}

int kl_uri_encode(struct kl_buf *out, const char *s, size_t n, int keep_slash)
{
	return encode(out, s, n, keep_slash, 0);
}

/* Percent-decode into `out` (no '+' to space: SigV4 treats '+' literally). */
static int decode(struct kl_buf *out, const char *s, size_t n)
{
	int rc = kl_buf_reserve(out, n + 1);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			out->data[out->len++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else {
			out->data[out->len++] = s[i];
		}
	}
	return KL_OK;
}

/* ---- path ---- */

static int canonical_path(struct kl_buf *out, const char *path, unsigned flags)
{
	size_t n = strlen(path);
	int keep_escapes = !(flags & KL_SIGV4_DOUBLE_ENCODE);
	if (n == 0)
		return kl_buf_putc(out, '/');
	if (!(flags & KL_SIGV4_NORMALIZE_PATH))
		return encode(out, path, n, 1, keep_escapes);

	/* Segments kept so far, as (offset, length) pairs into `path`. */
	size_t cap = n / 2 + 2, nseg = 0;
	size_t (*seg)[2] = malloc(cap * sizeof *seg);
	if (!seg)
		return KL_ENOMEM;
	int trailing = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && path[i] == '/')
			i++;
		size_t j = i;
		while (j < n && path[j] != '/')
			j++;
		size_t len = j - i;
		trailing = j == n ? 0 : 1;
		if (len == 0) {
			trailing = 1;
		} else if (len == 1 && path[i] == '.') {
			trailing = 1;
		} else if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (nseg)
				nseg--;
			trailing = 1;
		} else {
			seg[nseg][0] = i;
			seg[nseg][1] = len;
			nseg++;
		}
		i = j;
	}
	int rc = KL_OK;
	for (size_t k = 0; k < nseg && !rc; k++) {
		rc = kl_buf_putc(out, '/');
		if (!rc)
			rc = encode(out, path + seg[k][0], seg[k][1], 0, keep_escapes);
	}
	if (!rc && (nseg == 0 || trailing))
		rc = kl_buf_putc(out, '/');
	free(seg);
	return rc;
}

/* ---- query ---- */

struct qparam {
	char *key, *val; /* encoded, NUL-terminated, heap */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->val, y->val);
}

/* Decode then strictly encode `s[0..n)` into a fresh heap string. */
static char *reencode(const char *s, size_t n)
{
	struct kl_buf d, e;
	kl_buf_init(&d, 0);
	kl_buf_init(&e, 0);
	char *res = NULL;
	if (decode(&d, s, n) == KL_OK && encode(&e, d.data, d.len, 0, 0) == KL_OK &&
	    kl_buf_putc(&e, '\0') == KL_OK) {
		res = e.data;
		e.data = NULL;
	}
	kl_buf_cleanup(&d);
	kl_buf_cleanup(&e);
	return res;
}

static int canonical_query(struct kl_buf *out, const char *q)
{
	if (!q || !*q)
		return KL_OK;
	size_t n = strlen(q), cap = 1;
	for (size_t i = 0; i < n; i++)
		cap += q[i] == '&';
	struct qparam *p = calloc(cap, sizeof *p);
	if (!p)
		return KL_ENOMEM;
	size_t np = 0;
	int rc = KL_OK;
	for (size_t i = 0; i <= n && !rc;) {
		size_t j = i;
		while (j < n && q[j] != '&')
			j++;
		if (j > i) {
			const char *eq = memchr(q + i, '=', j - i);
			size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
			p[np].key = reencode(q + i, klen);
			p[np].val = eq ? reencode(eq + 1, (size_t)(q + j - eq - 1)) : reencode("", 0);
			if (!p[np].key || !p[np].val)
				rc = KL_ENOMEM;
			np++;
		}
		i = j + 1;
	}
	if (!rc) {
		qsort(p, np, sizeof *p, qparam_cmp);
		for (size_t k = 0; k < np && !rc; k++)
			rc = kl_buf_printf(out, "%s%s=%s", k ? "&" : "", p[k].key, p[k].val);
	}
	for (size_t k = 0; k < np; k++) {
		free(p[k].key);
		free(p[k].val);
	}
	free(p);
	return rc;
}

/* ---- headers ---- */

struct hdr {
	char *name; /* lower-cased, heap */
	char *val;  /* trimmed, collapsed, heap */
	size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static char *lower_dup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	return d;
}

static char *trim_collapse(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	int pending = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_ws(s[i])) {
			pending = o > 0;
		} else {
			if (pending)
				d[o++] = ' ';
			pending = 0;
			d[o++] = s[i];
		}
	}
	d[o] = '\0';
	return d;
}

static int has_header(const struct kl_sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return 1;
	return 0;
}

static const char *header_value(const struct kl_sigv4_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* Writes canonical headers (each "name:value\n") to `out` and the signed
 * header list to `signed_hdrs`. `extra` are headers the signer adds. */
static int canonical_headers(struct kl_buf *out, struct kl_buf *signed_hdrs,
			     const struct kl_sigv4_request *req, const struct kl_sigv4_header *extra,
			     size_t n_extra)
{
	size_t n = req->n_headers + n_extra;
	struct hdr *h = calloc(n ? n : 1, sizeof *h);
	if (!h)
		return KL_ENOMEM;
	int rc = KL_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct kl_sigv4_header *src =
			i < req->n_headers ? &req->headers[i] : &extra[i - req->n_headers];
		h[i].name = lower_dup(src->name);
		h[i].val = trim_collapse(src->value ? src->value : "");
		h[i].order = i;
		if (!h[i].name || !h[i].val)
			rc = KL_ENOMEM;
	}
	if (!rc)
		qsort(h, n, sizeof *h, hdr_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			rc = kl_buf_printf(out, ",%s", h[i].val);
			continue;
		}
		if (i > 0)
			rc = kl_buf_putc(out, '\n');
		if (!rc)
			rc = kl_buf_printf(out, "%s:%s", h[i].name, h[i].val);
		if (!rc)
			rc = kl_buf_printf(signed_hdrs, "%s%s", signed_hdrs->len ? ";" : "",
					   h[i].name);
	}
	if (!rc && n)
		rc = kl_buf_putc(out, '\n');
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].val);
	}
	free(h);
	return rc;
}

/* ---- signing ---- */

void kl_sigv4_result_init(struct kl_sigv4_result *r)
{
	memset(r, 0, sizeof *r);
	kl_buf_init(&r->creq, 1 << 20);
	kl_buf_init(&r->sts, 1 << 16);
	kl_buf_init(&r->authz, 1 << 16);
	kl_buf_init(&r->token, 1 << 16);
}

void kl_sigv4_result_cleanup(struct kl_sigv4_result *r)
{
	kl_buf_cleanup(&r->creq);
	kl_buf_cleanup(&r->sts);
	kl_buf_cleanup(&r->authz);
	if (r->token.data)
		OPENSSL_cleanse(r->token.data, r->token.cap);
	kl_buf_cleanup(&r->token);
}

static int valid_amz_date(const char *s)
{
	if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int nul_terminate(struct kl_buf *b)
{
	int rc = kl_buf_putc(b, '\0');
	if (!rc)
		b->len--;
	return rc;
}

int kl_sigv4_sign(const struct kl_sigv4_request *req, struct kl_sigv4_result *out,
		  struct kl_errbuf *eb)
{
	if (!req->method || !req->path || !req->region || !req->service || !req->access_key_id ||
	    !req->secret_access_key)
		return kl_errbuf_set(eb, KL_EINVAL, "sigv4: missing request field");
	kl_buf_reset(&out->creq);
	kl_buf_reset(&out->sts);
	kl_buf_reset(&out->authz);
	kl_buf_reset(&out->token);
	out->n_add = 0;
	out->signature[0] = '\0';

	if (req->amz_date) {
		if (!valid_amz_date(req->amz_date))
			return kl_errbuf_set(eb, KL_EINVAL, "sigv4: bad amz_date \"%.20s\"",
					     req->amz_date);
		memcpy(out->amz_date, req->amz_date, 17);
	} else {
		kl_sigv4_format_time(req->now, out->amz_date);
	}
	const char *given_date = header_value(req, "x-amz-date");
	if (given_date && strcmp(given_date, out->amz_date) != 0)
		return kl_errbuf_set(eb, KL_EINVAL,
				     "sigv4: X-Amz-Date header \"%.20s\" disagrees with clock %s",
				     given_date, out->amz_date);

	if (req->payload_hash) {
		size_t n = strlen(req->payload_hash);
		if (n >= sizeof out->payload_hash)
			return kl_errbuf_set(eb, KL_EINVAL, "sigv4: payload hash too long");
		memcpy(out->payload_hash, req->payload_hash, n + 1);
	} else {
		kl_sha256_hex(req->payload, req->payload_len, out->payload_hash);
	}

	/* Headers the signer adds: signed ones first, the omitted token last. */
	struct kl_sigv4_header signed_extra[KL_SIGV4_MAX_ADD];
	size_t n_signed_extra = 0;
	if (!given_date)
		out->add[out->n_add++] = (struct kl_sigv4_header){"X-Amz-Date", out->amz_date};
	int has_token = req->session_token && *req->session_token &&
			!has_header(req, "x-amz-security-token");
	if (has_token) {
		if (kl_buf_puts(&out->token, req->session_token) || nul_terminate(&out->token))
			return kl_errbuf_set(eb, KL_ENOMEM, "sigv4: session token too long");
	}
	if (has_token && !(req->flags & KL_SIGV4_OMIT_SESSION_TOKEN))
		out->add[out->n_add++] =
			(struct kl_sigv4_header){"X-Amz-Security-Token", out->token.data};
	if ((req->flags & KL_SIGV4_SIGN_BODY) && !has_header(req, "x-amz-content-sha256"))
		out->add[out->n_add++] =
			(struct kl_sigv4_header){"x-amz-content-sha256", out->payload_hash};
	for (size_t i = 0; i < out->n_add; i++)
		signed_extra[n_signed_extra++] = out->add[i];

	struct kl_buf signed_hdrs;
	kl_buf_init(&signed_hdrs, 1 << 16);
	char scope[256];
	int rc = kl_buf_printf(&out->creq, "%s\n", req->method);
	if (!rc)
		rc = canonical_path(&out->creq, req->path, req->flags);
	if (!rc)
		rc = kl_buf_putc(&out->creq, '\n');
	if (!rc)
		rc = canonical_query(&out->creq, req->query);
	if (!rc)
		rc = kl_buf_putc(&out->creq, '\n');
	if (!rc)
		rc = canonical_headers(&out->creq, &signed_hdrs, req, signed_extra, n_signed_extra);
	if (!rc)
		rc = nul_terminate(&signed_hdrs);
	if (!rc)
		rc = kl_buf_printf(&out->creq, "\n%s\n%s", signed_hdrs.data, out->payload_hash);
	if (!rc)
		rc = nul_terminate(&out->creq);
	if (!rc && snprintf(scope, sizeof scope, "%.8s/%s/%s/aws4_request", out->amz_date,
			    req->region, req->service) >= (int)sizeof scope)
		rc = KL_EINVAL;

	char creq_hash[65];
	struct sha sh = {NULL, NULL};
	if (!rc)
		rc = sha_open(&sh);
	if (!rc) {
		unsigned char md[32];
		rc = sha2(&sh, out->creq.data, out->creq.len, "", 0, md);
		to_hex(md, 32, creq_hash);
	}
	if (!rc) {
		rc = kl_buf_printf(&out->sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", out->amz_date,
				   scope, creq_hash);
		if (!rc)
			rc = nul_terminate(&out->sts);
	}
	if (!rc) {
		/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
		 * "aws4_request") */
		unsigned char k[32], sig[32];
		size_t slen = strlen(req->secret_access_key);
		char *kbuf = malloc(slen + 5);
		if (!kbuf) {
			rc = KL_ENOMEM;
		} else {
			memcpy(kbuf, "AWS4", 4);
			memcpy(kbuf + 4, req->secret_access_key, slen + 1);
			rc = hmac(&sh, kbuf, slen + 4, out->amz_date, 8, k);
			OPENSSL_cleanse(kbuf, slen + 5);
			free(kbuf);
			rc = rc ? rc : hmac(&sh, k, 32, req->region, strlen(req->region), k);
			rc = rc ? rc : hmac(&sh, k, 32, req->service, strlen(req->service), k);
			rc = rc ? rc : hmac(&sh, k, 32, "aws4_request", 12, k);
			rc = rc ? rc : hmac(&sh, k, 32, out->sts.data, out->sts.len, sig);
			OPENSSL_cleanse(k, sizeof k);
			to_hex(sig, 32, out->signature);
			OPENSSL_cleanse(sig, sizeof sig);
			rc = rc ? rc
				: kl_buf_printf(
				      &out->authz,
				      "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
				      "Signature=%s",
				      req->access_key_id, scope, signed_hdrs.data, out->signature);
			if (!rc)
				rc = nul_terminate(&out->authz);
		}
	}
	if (!rc && has_token && (req->flags & KL_SIGV4_OMIT_SESSION_TOKEN))
		out->add[out->n_add++] =
			(struct kl_sigv4_header){"X-Amz-Security-Token", out->token.data};
	sha_close(&sh);
	kl_buf_cleanup(&signed_hdrs);
	if (rc)
		return kl_errbuf_set(eb, rc, "sigv4: %s building the signature", kl_strerror(rc));
	return KL_OK;
}
