/*
 * parquet.h — a standalone, streaming Parquet file writer (flat schemas).
 *
 * What it writes (parquet-format README "File format", parquet.thrift):
 *   "PAR1" | row group* | FileMetaData (Thrift compact) | u32le footer length | "PAR1"
 * Every column is a top-level OPTIONAL leaf (max definition level 1, no
 * repetition). Data pages are v1: 4-byte-length-prefixed RLE/bit-packed
 * definition levels, then values. INT64/DOUBLE/STRING columns are
 * dictionary-encoded (PLAIN dictionary page + RLE_DICTIONARY data pages)
 * while it pays: a chunk's dictionary is judged at its 1024th value (or its
 * end, if sooner) and dropped when over half the values are distinct (as
 * soon as that is certain, given kl_pq_writer_hint()), and
 * abandoned when it would exceed `dict_max_bytes`. Values without a
 * dictionary: INT64 pages are DELTA_BINARY_PACKED or PLAIN and DOUBLE pages
 * BYTE_STREAM_SPLIT or PLAIN, whichever compresses smaller (both are
 * encoded and compressed); STRING pages are DELTA_BYTE_ARRAY when
 * consecutive values share at least half their bytes as prefixes, else
 * DELTA_LENGTH_BYTE_ARRAY; BOOLEAN is always PLAIN (bit-packed).
 * Every reader in the tests (DuckDB, Arrow via parquet-wasm, hyparquet)
 * reads these in v1 pages (DuckDB 1.5 does not read BYTE_STREAM_SPLIT
 * INT64, hence PLAIN there). Each page is compressed on its own.
 * Column chunk statistics: min_value/max_value (type-defined order) and
 * null_count.
 *
 * Ownership: the writer owns all its buffers and a copy of the column names.
 * The caller owns the sink context and the `struct kl_errbuf` passed to
 * kl_pq_writer_new(), which must outlive the writer. Rows are buffered per
 * column until a row group is full, then written column chunk by column
 * chunk through `fn`, which receives the consecutive bytes of the file (the
 * writer never seeks). Nothing is written before the first row group or
 * kl_pq_writer_finish(). What a column chunk buffers is encoded: its
 * finished data pages, each compressed as it fills (page_bytes, or
 * PQ_PAGE_MAX_ROWS rows), its dictionary (PLAIN entries, written as the
 * chunk's first page when the row group is), and the current page's values
 * (dictionary indices or PLAIN bytes) and definition levels. A page
 * flushed as dictionary indices stays valid: the dictionary is dropped
 * only while no such page exists (PQ_DICT_PROBE), and when it fills up the
 * page is closed and the rest of the chunk goes without it. So a row
 * group costs about its compressed size plus one page per column.
 *
 * Invariants: output depends only on the rows and options (no clocks, no
 * hash-order iteration: dictionaries are in first-seen order). Buffers are
 * kept across pages, row groups and kl_pq_writer_reset(), so steady state
 * does not allocate per row or per file. After any error the writer is
 * poisoned: every later call returns that error until reset.
 * Strings must be UTF-8 (not validated). A writer is not thread-safe.
 */
#ifndef KL_ENCODE_PARQUET_PARQUET_H
#define KL_ENCODE_PARQUET_PARQUET_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

enum kl_pq_type {
	KL_PQ_BOOLEAN,
	KL_PQ_INT64,
	KL_PQ_DOUBLE,
	KL_PQ_STRING /* BYTE_ARRAY + STRING logical type (and UTF8 converted type) */
};

enum kl_pq_codec { KL_PQ_UNCOMPRESSED, KL_PQ_SNAPPY, KL_PQ_GZIP, KL_PQ_ZSTD };

/* 0 in a build without snappy (KL_NO_SNAPPY: the Lambda package). */
int kl_pq_snappy_available(void);

/* Every column is OPTIONAL (max definition level 1). */
struct kl_pq_column {
	const char *name;
	enum kl_pq_type type;
};

struct kl_pq_opts {
	enum kl_pq_codec codec; /* default ZSTD */
	int level;              /* codec level, 0 = codec default (zstd 3, gzip 6) */
	size_t page_bytes;      /* target data page size, default 1 MiB */
	size_t row_group_bytes; /* default 128 MiB (uncompressed estimate) */
	size_t dict_max_bytes;  /* dictionary page limit before PLAIN fallback, default 1 MiB */
	const char *created_by; /* e.g. "kinlake 0.1.0"; copied; NULL = "kinlake" */
};

void kl_pq_opts_default(struct kl_pq_opts *o);

/* Output sink: called with consecutive bytes of the file; returns 0 on
 * success, anything else fails the writer with KL_EIO. */
typedef int (*kl_pq_write_fn)(void *ctx, const void *p, size_t n);

struct kl_pq_writer;

/* Create a writer for `ncols` (>= 1) columns with unique non-empty names.
 * `o` NULL means defaults. `eb` may be NULL. */
int kl_pq_writer_new(struct kl_pq_writer **out, const struct kl_pq_column *cols, size_t ncols,
		     const struct kl_pq_opts *o, kl_pq_write_fn fn, void *ctx,
		     struct kl_errbuf *eb);

/* Row-wise append: for each row call at most one put per column, in any
 * order (a column not set in the row is null), then kl_pq_end_row(). A second
 * put to the same column in one row, a type mismatch or a bad column index is
 * KL_EINVAL. */
int kl_pq_put_null(struct kl_pq_writer *w, size_t col);
int kl_pq_put_bool(struct kl_pq_writer *w, size_t col, int v);
int kl_pq_put_i64(struct kl_pq_writer *w, size_t col, int64_t v);
int kl_pq_put_double(struct kl_pq_writer *w, size_t col, double v);
int kl_pq_put_string(struct kl_pq_writer *w, size_t col, const char *p, size_t n);
int kl_pq_end_row(struct kl_pq_writer *w);

/* Optional, for speed only: a promise that from now until the file ends,
 * column `col` (not BOOLEAN) gets at most `values` more non-null values
 * whose PLAIN sizes (8 bytes per INT64/DOUBLE, 4 + length per string) add
 * up to at most `plain_bytes`, in at most `rows` more rows (the last call
 * sets the row bound for every hinted column). With it the writer drops a
 * chunk's dictionary as soon as the PQ_DICT_PROBE judgement is certain to
 * drop it, and stops hashing that chunk's values: the file is the same
 * bytes with or without the hint. A broken promise only makes the file
 * differ (still valid). KL_EINVAL for a bad column. */
int kl_pq_writer_hint(struct kl_pq_writer *w, size_t col, uint64_t values, uint64_t plain_bytes,
		      uint64_t rows);

/* Flushes the last row group, writes the footer and the closing "PAR1".
 * A partially built row (puts without end_row) is KL_EINVAL. */
int kl_pq_writer_finish(struct kl_pq_writer *w);

/* NULL is a no-op. */
void kl_pq_writer_free(struct kl_pq_writer *w);

/* Start a new file with a new schema and sink, keeping options, the error
 * buffer and all allocated buffers. Anything not finished is discarded. */
int kl_pq_writer_reset(struct kl_pq_writer *w, const struct kl_pq_column *cols, size_t ncols,
		       kl_pq_write_fn fn, void *ctx);

/* Introspection for tests and callers' accounting. */
uint64_t kl_pq_writer_rows(const struct kl_pq_writer *w);          /* rows ended in this file */
uint64_t kl_pq_writer_bytes_written(const struct kl_pq_writer *w); /* bytes passed to fn */
size_t kl_pq_writer_row_groups(const struct kl_pq_writer *w);      /* row groups flushed */

/* Per column chunk facts of the current file, for tests. `rg` and `col`
 * must be in range; fields are as written to ColumnMetaData. */
struct kl_pq_chunk_info {
	int64_t num_values;
	int64_t data_page_offset;
	int64_t dict_page_offset; /* -1 if the chunk has no dictionary page */
	uint32_t data_pages;      /* data pages in the chunk */
	uint32_t dict_data_pages; /* of those, RLE_DICTIONARY-encoded */
	int64_t null_count;
	int has_min_max;
	int64_t total_compressed;   /* all pages incl. headers, as in ColumnMetaData */
	int64_t total_uncompressed;
	unsigned encodings;         /* bit e set: Parquet encoding e (parquet.thrift) is used */
	enum kl_pq_codec codec;     /* the writer's, or UNCOMPRESSED for a small chunk of one
				       page (pq_internal.h, PQ_RAW_CHUNK_BYTES) */
};
int kl_pq_writer_chunk_info(const struct kl_pq_writer *w, size_t rg, size_t col,
			    struct kl_pq_chunk_info *out);

#endif
