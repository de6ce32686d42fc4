/*
 * kpl.h — KPL de-aggregation: the "decode" stage, one Kinesis record in,
 * its user records out.
 *
 * The Kinesis Producer Library packs many user records into one Kinesis
 * record (awslabs/amazon-kinesis-producer, aggregation-format.md):
 *
 *     F3 89 9A C2  ||  protobuf AggregatedRecord  ||  MD5(protobuf), 16 bytes
 *
 *     AggregatedRecord { repeated string partition_key_table = 1;
 *                        repeated string explicit_hash_key_table = 2;
 *                        repeated Record records = 3; }
 *     Record { required uint64 partition_key_index = 1;
 *              optional uint64 explicit_hash_key_index = 2;
 *              required bytes data = 3; repeated Tag tags = 4; }
 *     Tag    { required string key = 1; optional string value = 2; }
 *
 * kl_kpl_decode() reads that with its own protobuf wire-format reader
 * (proto2 semantics, as the KCL's protobuf-java parser applies them):
 * unknown fields of every wire type are skipped (groups included, nested up
 * to 64 deep), a known field number with an unexpected wire type counts as
 * an unknown field, a repeated scalar keeps its last value, and key strings
 * are opaque bytes (proto2 does not check their UTF-8). Rejected as malformed:
 * varints longer than 10 bytes or wider than 64 bits, field number 0, wire
 * types 6 and 7, lengths past the end of the enclosing message, unmatched
 * end-group tags, a Record without partition_key_index or data, a Tag without
 * key, and key indexes outside their table.
 *
 * Anything that is not a valid aggregated record comes back, as the KCL
 * returns it, as ONE record holding the whole input unchanged: no magic, too
 * short for the MD5, MD5 mismatch, malformed protobuf. *aggregated is then 0
 * and *reason says why, for logging. The caller keeps the Kinesis record's
 * own partition key for such a record (partition_key is NULL).
 *
 * A valid aggregated record yields its user records in order, sub_index
 * 0..count-1 (the KCL's sub-sequence number). One without any Record field
 * yields count 0: it carries no user data.
 *
 * Ownership: nothing is copied. Record data and keys point into the caller's
 * input, which must outlive them; the record array belongs to the struct
 * kl_kpl and stays valid until the next kl_kpl_decode() or kl_kpl_cleanup().
 * A struct kl_kpl is caller-owned (kl_kpl_init/cleanup) and not thread-safe;
 * use one per thread. Its arrays grow to the largest record seen and are then
 * reused, so steady-state decoding does not allocate per user record. (One
 * small allocation per aggregated Kinesis record remains inside OpenSSL 3.0:
 * EVP_DigestInit re-creates the MD5 state even on a reused EVP_MD_CTX.) The
 * arrays take at most about 10 times the input size (a user record costs at
 * least 6 input bytes and 56 bytes of struct kl_kpl_record).
 */
#ifndef KL_DECODE_KPL_H
#define KL_DECODE_KPL_H

#include <stddef.h>
#include <stdint.h>

struct evp_md_st;
struct evp_md_ctx_st;

#define KL_KPL_MAGIC "\xF3\x89\x9A\xC2"
#define KL_KPL_MAGIC_LEN 4
#define KL_KPL_MD5_LEN 16

/* One user record. */
struct kl_kpl_record {
	const uint8_t *data; /* into the input; may be empty */
	size_t len;
	const char *partition_key; /* into the input; NULL when not aggregated */
	size_t pk_len;
	const char *explicit_hash_key; /* into the input; NULL when absent */
	size_t ehk_len;
	uint32_t sub_index; /* position in the aggregated record; 0 when not aggregated */
};

/* A key table entry (internal). */
struct kl_kpl_key {
	const char *p;
	size_t n;
};

struct kl_kpl {
	struct kl_kpl_record *rec; /* user records of the last aggregated decode */
	size_t rec_cap;
	struct kl_kpl_key *pk, *ehk; /* key tables of the last decode */
	size_t pk_cap, ehk_cap;
	struct kl_kpl_record one;     /* the pass-through result: never allocates */
	struct evp_md_st *md;	      /* OpenSSL EVP_MD for MD5, fetched on first use */
	struct evp_md_ctx_st *md_ctx; /* OpenSSL EVP_MD_CTX, created on first use */
};

void kl_kpl_init(struct kl_kpl *k);
void kl_kpl_cleanup(struct kl_kpl *k);

/*
 * Decode one Kinesis record's data p[0..n) (p may be NULL when n is 0).
 * Sets *out to the user records and *count to their number. *aggregated is 1
 * when the input was a valid aggregated record (*reason NULL); otherwise 0,
 * with one pass-through record (data == p, len == n) and *reason a static
 * string: "not aggregated", "truncated", "md5 mismatch", "bad protobuf",
 * "missing required field", "key index out of range", "too many records".
 * `aggregated` and `reason` may be NULL.
 *
 * Returns KL_OK; KL_ENOMEM if an array or the MD5 context could not be
 * allocated, or KL_EUNSUPPORTED if the crypto library offers no MD5 (a
 * FIPS-only OpenSSL). On error *count is 0. Input without the magic, or too
 * short to hold an MD5, is passed through without any allocation and never
 * fails.
 */
int kl_kpl_decode(struct kl_kpl *k, const uint8_t *p, size_t n, const struct kl_kpl_record **out,
		  size_t *count, int *aggregated, const char **reason);

#endif
