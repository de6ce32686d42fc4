/*
 * pq_internal.h — private state of the Parquet writer, shared by parquet.c
 * (API, row buffering, row groups), pq_page.c (levels, pages, compression),
 * pq_dict.c (dictionary hash table) and pq_meta.c (Thrift footer/headers).
 * Not a public interface: only files of src/encode/parquet include it.
 *
 * Ownership: everything here is owned by `struct kl_pq_writer`; buffers are
 * reset, not freed, between pages, row groups and files.
 */
#ifndef KL_ENCODE_PARQUET_PQ_INTERNAL_H
#define KL_ENCODE_PARQUET_PQ_INTERNAL_H

#include "core/buf.h"
#include "core/err.h"
#include "encode/parquet/parquet.h"

#include <stdint.h>

/* parquet.thrift enums used here. */
enum {
	PQ_T_BOOLEAN = 0,
	PQ_T_INT64 = 2,
	PQ_T_DOUBLE = 5,
	PQ_T_BYTE_ARRAY = 6,
	PQ_ENC_PLAIN = 0,
	PQ_ENC_RLE = 3,
	PQ_ENC_DELTA_BINARY_PACKED = 5,
	PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
	PQ_ENC_DELTA_BYTE_ARRAY = 7,
	PQ_ENC_RLE_DICTIONARY = 8,
	PQ_ENC_BYTE_STREAM_SPLIT = 9,
	PQ_PAGE_DATA = 0,
	PQ_PAGE_DICTIONARY = 2,
	PQ_REP_OPTIONAL = 1,
	PQ_CONV_UTF8 = 0,
};

/* Bits of pq_chunk_meta.enc_mask. */
#define PQ_EM_PLAIN 1u
#define PQ_EM_RLE 2u
#define PQ_EM_DICT 4u
#define PQ_EM_DELTA 8u  /* DELTA_BINARY_PACKED */
#define PQ_EM_DLBA 16u  /* DELTA_LENGTH_BYTE_ARRAY */
#define PQ_EM_BSS 32u   /* BYTE_STREAM_SPLIT */
#define PQ_EM_DBA 64u   /* DELTA_BYTE_ARRAY */

/* The Parquet encodings (bit e set for PQ_ENC_* value e) that a chunk's
 * PQ_EM_* mask names: what its footer lists, in ascending order. */
uint32_t pq_encodings_of(unsigned enc_mask);

/* DELTA_BINARY_PACKED layout: blocks of 128 values in 4 miniblocks of 32
 * (as parquet-mr and Arrow write it). */
#define PQ_DELTA_BLOCK 128u
#define PQ_DELTA_MINI 32u

/* A chunk's dictionary is judged once, when the chunk has this many values
 * or ends, whichever comes first: if over half its values are distinct it is
 * dropped (its values re-encoded without it) and no value of the rest of
 * the chunk is hashed. */
#define PQ_DICT_PROBE 1024u
/* ... and dropped earlier, at its PQ_DICT_EARLY-th value, when more than
 * PQ_DICT_EARLY_NUM / PQ_DICT_EARLY_DEN of those are distinct: a unique
 * column (UUIDs, hashes, timestamps) then hashes 128 values a chunk, not
 * 513. On 1M events of the bench's shape no file changes (the encoder's
 * CPU -3.6 %, bench/pq_encode.c); at 32 values a few chunks did. */
#define PQ_DICT_EARLY 128u
#define PQ_DICT_EARLY_NUM 7u
#define PQ_DICT_EARLY_DEN 8u

/* A data page never holds more rows than this (as Arrow's default row count
 * limit): keeps dictionary-index pages of tiny values bounded in memory. */
#define PQ_PAGE_MAX_ROWS 20000u

/* Dictionary of one column chunk: entries in first-seen order. `vals` is
 * exactly the PLAIN-encoded dictionary page payload. */
struct pq_dict {
	struct kl_buf vals;   /* PLAIN entries (BYTE_ARRAY: u32le length + bytes) */
	struct kl_buf offs;   /* uint32_t offset of each entry in vals */
	struct kl_buf hashes; /* uint32_t hash of each entry */
	uint32_t *slots;      /* open addressing, linear probe: entry index + 1, 0 = empty */
	size_t cap;           /* slots, power of two (0 before first use) */
	uint32_t n;           /* entries */
	uint32_t last;        /* entry found or added last (valid when n > 0) */
	uint64_t seed;        /* of the hashes (core/seed.h): values come from events */
};

void pq_dict_init(struct pq_dict *d);
void pq_dict_cleanup(struct pq_dict *d);
void pq_dict_reset(struct pq_dict *d);
/* Empty it and release buffers larger than `keep` bytes. */
void pq_dict_shrink(struct pq_dict *d, size_t keep);
/* Find `key` (the raw value bytes: 8 LE bytes for INT64/DOUBLE, the string
 * for BYTE_ARRAY) or add it. KL_OK with *idx set; 1 if adding it would make
 * the PLAIN dictionary larger than `max_bytes` (nothing added); KL_ENOMEM. */
int pq_dict_add(struct pq_dict *d, const void *key, size_t klen, int byte_array,
		size_t max_bytes, uint32_t *idx);

struct pq_col;
struct kl_pq_writer;
/* Take the PQ_DICT_PROBE decision for column c (once per chunk): when over
 * half of the chunk's values are distinct and no dictionary-encoded page
 * was flushed yet, the pending page's indices become PLAIN values and the
 * dictionary is dropped for the rest of the chunk. Uses w->page. */
int pq_dict_judge(struct kl_pq_writer *w, struct pq_col *c);

/* Between files a writer keeps, per buffer, at most this much capacity
 * (kl_pq_writer_finish releases the rest). Buffers are sized by the
 * largest file each column position has seen, and positions are shared by
 * every event type's files, so a writer that kept everything would hold
 * the sum of many files' largest columns: after one hour of 1M events
 * (files of up to ~21 MB of text) the column buffers of the encoder
 * threads held ~85 MB (massif), outside the memory budget. Files of the
 * six-hour production shape (~0.8 MB of text each) stay within it, so
 * they still reuse their buffers without allocating. */
#define PQ_KEEP_BYTES ((size_t)256 << 10)

struct pq_col {
	uint32_t name_off, name_len; /* in writer->names */
	enum kl_pq_type type;
	int set; /* a value or null was put in the current row */

	/* current page */
	struct kl_buf defs; /* one byte per row: 1 value, 0 null */
	struct kl_buf vals; /* PLAIN bytes; uint32_t dict indices; one byte per bool */
	uint32_t page_rows, page_vals;
	size_t page_plain; /* PLAIN-encoded size of the page's values */

	/* current column chunk */
	struct pq_dict dict;
	int dict_on;          /* still dictionary-encoding this chunk */
	int dict_judged;      /* the PQ_DICT_PROBE decision was taken */
	struct kl_buf pages;  /* finished data pages: header + body each */
	uint32_t n_pages, n_dict_pages;
	unsigned enc_mask;
	int64_t chunk_rows, chunk_nulls;

	/* this file (kl_pq_writer_hint) */
	uint64_t file_vals, file_plain; /* non-null values and their PLAIN bytes put */
	int hinted;                      /* the hint's ends below hold */
	uint64_t hint_vals_end, hint_plain_end; /* file_vals / file_plain at most */
	int64_t chunk_uncomp, chunk_comp; /* data pages incl. headers */
	int raw; /* this chunk is stored without the codec (PQ_RAW_CHUNK_BYTES) */

	/* chunk statistics */
	int has_mm;
	int64_t min_i, max_i;
	double min_d, max_d;
	struct kl_buf min_s, max_s;
};

struct pq_chunk_meta {
	uint8_t ptype;
	unsigned enc_mask;
	int64_t num_values, uncomp, comp, data_off, dict_off, null_count;
	uint32_t data_pages, dict_data_pages;
	int has_mm;
	enum kl_pq_codec codec; /* the writer's, or UNCOMPRESSED for a raw chunk (pq_col.raw) */
	size_t min_off, min_len, max_off, max_len; /* encoded stats in writer->stats */
};

struct pq_rg_meta {
	int64_t num_rows, total_uncomp, total_comp, file_offset;
};

struct kl_pq_writer {
	struct kl_pq_opts o;
	struct kl_buf created_by; /* NUL-terminated copy; o.created_by points here */
	struct kl_errbuf *eb;
	int err; /* sticky */
	kl_pq_write_fn fn;
	void *ctx;

	struct pq_col *cols;
	size_t ncols, cols_cap;
	struct kl_buf names;

	uint64_t rows;
	uint64_t hint_rows_end; /* rows at most, when a column is hinted */
	int64_t rg_rows;
	size_t rg_est;
	int row_open;
	uint64_t offset; /* bytes passed to fn */

	struct pq_rg_meta *rgs;
	size_t nrg, rgs_cap;
	struct pq_chunk_meta *chunks; /* nrg * ncols, row group major */
	size_t chunks_cap;
	struct kl_buf stats; /* min/max bytes of all chunks */

	struct kl_buf page; /* uncompressed page scratch */
	struct kl_buf comp; /* compressed page scratch */
	struct kl_buf comp_alt; /* a number page's first candidate, compressed (pq_flush_page) */
	struct kl_buf hdr;  /* page header / footer scratch */

	void *zstd; /* ZSTD_CCtx */
	void *gz;   /* z_stream */
};

/* pq_page.c */
int pq_codec_init(struct kl_pq_writer *w);
void pq_codec_free(struct kl_pq_writer *w);
/* Append the RLE/bit-packed hybrid encoding of `n` values of `width` bits
 * (no length prefix). `vals` are bytes (u8) when `wide` is 0, else uint32_t. */
int pq_rle_hybrid(struct kl_buf *out, const void *vals, size_t n, int wide, int width);
/* Append the DELTA_BINARY_PACKED encoding (header included) of the n
 * int64 values at le64 (8 bytes each, little-endian, any alignment). */
int pq_delta_encode(struct kl_buf *out, const void *le64, size_t n);
/* A column chunk of one page that encodes to at most this many bytes, and
 * whose dictionary (if any) is no larger, is stored without the codec: the
 * codec field is per column chunk (ColumnMetaData.codec), so readers take
 * mixed chunks in one file. Such pages are where a codec costs the most for
 * the least: every zstd call pays ~2 µs of fixed work (frame, the literals'
 * Huffman table), and on a few hundred bytes its frame and table often
 * outweigh what it saves. Measured on a 100,000-event stream over 4 shards
 * (bench/README.md, session 41): 41 % of the zstd calls were on under 256
 * bytes, and those chunks came out larger compressed than raw. */
#define PQ_RAW_CHUNK_BYTES 256

/* Encode and compress the column's pending page into col->pages. `last`:
 * the chunk ends with this page (the row group is being flushed), so a
 * chunk of this one page may be stored raw (PQ_RAW_CHUNK_BYTES). */
int pq_flush_page(struct kl_pq_writer *w, struct pq_col *c, int last);
/* Build the column's dictionary page: on success the page is the header in
 * w->hdr followed by `*body` (w->comp, or the dictionary itself when
 * uncompressed); *uncomp and *comp are its sizes including the header. */
int pq_build_dict_page(struct kl_pq_writer *w, struct pq_col *c, const void **body,
		       size_t *body_len, int64_t *uncomp, int64_t *comp);
/* The writer's sticky error: the first one is kept (w->err and w->eb);
 * returns the error in force. Here, not in parquet.c, so the page and
 * dictionary code reports without calling back into the writer's file. */
static inline __attribute__((format(printf, 3, 4))) int pq_fail(struct kl_pq_writer *w, int code,
								  const char *fmt, ...)
{
	if (w->err)
		return w->err;
	w->err = code;
	va_list ap;
	va_start(ap, fmt);
	kl_errbuf_vset(w->eb, code, fmt, ap);
	va_end(ap);
	return code;
}

/* pq_meta.c */
int pq_page_header(struct kl_buf *out, int page_type, size_t uncomp, size_t comp,
		   uint32_t num_values, int encoding);
int pq_footer(struct kl_pq_writer *w, struct kl_buf *out);

static inline int pq_codec_thrift(enum kl_pq_codec c)
{
	switch (c) {
	case KL_PQ_UNCOMPRESSED: return 0;
	case KL_PQ_SNAPPY: return 1;
	case KL_PQ_GZIP: return 2;
	case KL_PQ_ZSTD: return 6;
	}
	return 0;
}

static inline void pq_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The length prefix pq_le32 wrote (PLAIN BYTE_ARRAY values in vals buffers). */
static inline uint32_t pq_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void pq_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
