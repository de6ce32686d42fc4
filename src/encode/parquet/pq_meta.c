/* pq_meta.c — Thrift structures of the file: PageHeader (+ DataPageHeader v1,
 * DictionaryPageHeader) and the footer FileMetaData (SchemaElement, RowGroup,
 * ColumnChunk, ColumnMetaData, Statistics, ColumnOrder).
 * Spec: parquet-format src/main/thrift/parquet.thrift (field ids below are
 * those of that file), README "Metadata" and "Column chunks", LogicalTypes.md
 * "STRING". Fields are written in increasing field-id order. */
#include "encode/parquet/pq_internal.h"

#include "core/err.h"
#include "encode/parquet/thrift.h"

#include <string.h>

int pq_page_header(struct kl_buf *out, int page_type, size_t uncomp, size_t comp,
		   uint32_t num_values, int encoding)
{
	struct kl_thrift_w t;
	kl_thrift_w_init(&t, out);
	kl_thrift_field_i32(&t, 1, page_type);          /* type */
	kl_thrift_field_i32(&t, 2, (int32_t)uncomp);    /* uncompressed_page_size */
	kl_thrift_field_i32(&t, 3, (int32_t)comp);      /* compressed_page_size */
	if (page_type == PQ_PAGE_DATA) {
		kl_thrift_field_struct(&t, 5);               /* data_page_header */
		kl_thrift_field_i32(&t, 1, (int32_t)num_values);
		kl_thrift_field_i32(&t, 2, encoding);        /* encoding */
		kl_thrift_field_i32(&t, 3, PQ_ENC_RLE);      /* definition_level_encoding */
		kl_thrift_field_i32(&t, 4, PQ_ENC_RLE);      /* repetition_level_encoding */
		kl_thrift_struct_end(&t);
	} else {
		kl_thrift_field_struct(&t, 7);               /* dictionary_page_header */
		kl_thrift_field_i32(&t, 1, (int32_t)num_values);
		kl_thrift_field_i32(&t, 2, encoding);
		kl_thrift_struct_end(&t);
	}
	kl_thrift_struct_end(&t);
	return t.err;
}

static int ptype_of(enum kl_pq_type t)
{
	switch (t) {
	case KL_PQ_BOOLEAN: return PQ_T_BOOLEAN;
	case KL_PQ_INT64: return PQ_T_INT64;
	case KL_PQ_DOUBLE: return PQ_T_DOUBLE;
	case KL_PQ_STRING: return PQ_T_BYTE_ARRAY;
	}
	return PQ_T_BYTE_ARRAY;
}

static void schema(struct kl_thrift_w *t, const struct kl_pq_writer *w)
{
	kl_thrift_field_list(t, 2, KL_THRIFT_STRUCT, (uint32_t)(w->ncols + 1));
	/* Root group: name + num_children, no type. */
	kl_thrift_struct_begin(t);
	kl_thrift_field_binary(t, 4, "schema", 6);
	kl_thrift_field_i32(t, 5, (int32_t)w->ncols);
	kl_thrift_struct_end(t);
	for (size_t i = 0; i < w->ncols; i++) {
		const struct pq_col *c = &w->cols[i];
		kl_thrift_struct_begin(t);
		kl_thrift_field_i32(t, 1, ptype_of(c->type));
		kl_thrift_field_i32(t, 3, PQ_REP_OPTIONAL);
		kl_thrift_field_binary(t, 4, w->names.data + c->name_off, c->name_len);
		if (c->type == KL_PQ_STRING) {
			kl_thrift_field_i32(t, 6, PQ_CONV_UTF8); /* converted_type */
			kl_thrift_field_struct(t, 10);           /* logicalType */
			kl_thrift_field_struct(t, 1);            /* STRING: StringType {} */
			kl_thrift_struct_end(t);
			kl_thrift_struct_end(t);
		}
		kl_thrift_struct_end(t);
	}
}

static void statistics(struct kl_thrift_w *t, const struct kl_pq_writer *w,
		       const struct pq_chunk_meta *m)
{
	/* Empty strings may leave the arena unallocated (data == NULL). */
	const char *s = w->stats.data ? w->stats.data : "";
	kl_thrift_field_struct(t, 12);
	/* Deprecated max/min (1, 2) use signed comparison, which agrees with the
	 * type-defined order for BOOLEAN/INT64/DOUBLE only: written for those,
	 * since older readers (Hive, old parquet-mr) only look there. */
	if (m->has_mm && m->ptype != PQ_T_BYTE_ARRAY) {
		kl_thrift_field_binary(t, 1, s + m->max_off, m->max_len);
		kl_thrift_field_binary(t, 2, s + m->min_off, m->min_len);
	}
	kl_thrift_field_i64(t, 3, m->null_count);
	if (m->has_mm) {
		kl_thrift_field_binary(t, 5, s + m->max_off, m->max_len);
		kl_thrift_field_binary(t, 6, s + m->min_off, m->min_len);
	}
	kl_thrift_struct_end(t);
}

uint32_t pq_encodings_of(unsigned enc_mask)
{
	static const struct {
		unsigned bit;
		int enc;
	} encs[] = {{PQ_EM_PLAIN, PQ_ENC_PLAIN},
		    {PQ_EM_RLE, PQ_ENC_RLE},
		    {PQ_EM_DELTA, PQ_ENC_DELTA_BINARY_PACKED},
		    {PQ_EM_DLBA, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY},
		    {PQ_EM_DBA, PQ_ENC_DELTA_BYTE_ARRAY},
		    {PQ_EM_DICT, PQ_ENC_RLE_DICTIONARY},
		    {PQ_EM_BSS, PQ_ENC_BYTE_STREAM_SPLIT}};
	uint32_t out = 0;
	for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++)
		if (enc_mask & encs[i].bit)
			out |= 1u << encs[i].enc;
	return out;
}

static void column_chunk(struct kl_thrift_w *t, const struct kl_pq_writer *w, size_t col,
			 const struct pq_chunk_meta *m)
{
	const struct pq_col *c = &w->cols[col];
	int64_t start = m->dict_off >= 0 ? m->dict_off : m->data_off;
	kl_thrift_struct_begin(t);
	kl_thrift_field_i64(t, 2, start); /* file_offset */
	kl_thrift_field_struct(t, 3);     /* meta_data */
	kl_thrift_field_i32(t, 1, m->ptype);
	uint32_t encs = pq_encodings_of(m->enc_mask);
	kl_thrift_field_list(t, 2, KL_THRIFT_I32, (uint32_t)__builtin_popcount(encs));
	for (int e = 0; e < 32; e++)
		if (encs & (1u << e))
			kl_thrift_i32(t, e);
	kl_thrift_field_list(t, 3, KL_THRIFT_BINARY, 1); /* path_in_schema */
	kl_thrift_binary(t, w->names.data + c->name_off, c->name_len);
	kl_thrift_field_i32(t, 4, pq_codec_thrift(m->codec));
	kl_thrift_field_i64(t, 5, m->num_values);
	kl_thrift_field_i64(t, 6, m->uncomp);
	kl_thrift_field_i64(t, 7, m->comp);
	kl_thrift_field_i64(t, 9, m->data_off);
	if (m->dict_off >= 0)
		kl_thrift_field_i64(t, 11, m->dict_off);
	statistics(t, w, m);
	kl_thrift_struct_end(t); /* ColumnMetaData */
	kl_thrift_struct_end(t); /* ColumnChunk */
}

int pq_footer(struct kl_pq_writer *w, struct kl_buf *out)
{
	struct kl_thrift_w t;
	kl_thrift_w_init(&t, out);
	kl_thrift_field_i32(&t, 1, 1); /* version */
	schema(&t, w);
	kl_thrift_field_i64(&t, 3, (int64_t)w->rows);
	kl_thrift_field_list(&t, 4, KL_THRIFT_STRUCT, (uint32_t)w->nrg);
	for (size_t r = 0; r < w->nrg; r++) {
		const struct pq_rg_meta *g = &w->rgs[r];
		kl_thrift_struct_begin(&t);
		kl_thrift_field_list(&t, 1, KL_THRIFT_STRUCT, (uint32_t)w->ncols);
		for (size_t i = 0; i < w->ncols; i++)
			column_chunk(&t, w, i, &w->chunks[r * w->ncols + i]);
		kl_thrift_field_i64(&t, 2, g->total_uncomp);
		kl_thrift_field_i64(&t, 3, g->num_rows);
		kl_thrift_field_i64(&t, 5, g->file_offset);
		kl_thrift_field_i64(&t, 6, g->total_comp);
		if (r <= INT16_MAX) {
			kl_thrift_field(&t, 7, KL_THRIFT_I16);
			kl_thrift_i32(&t, (int32_t)r);
		}
		kl_thrift_struct_end(&t);
	}
	const char *cb = w->o.created_by;
	kl_thrift_field_binary(&t, 6, cb, strlen(cb));
	/* column_orders: TypeDefinedOrder for every leaf, so readers trust
	 * min_value/max_value. */
	kl_thrift_field_list(&t, 7, KL_THRIFT_STRUCT, (uint32_t)w->ncols);
	for (size_t i = 0; i < w->ncols; i++) {
		kl_thrift_struct_begin(&t);
		kl_thrift_field_struct(&t, 1);
		kl_thrift_struct_end(&t);
		kl_thrift_struct_end(&t);
	}
	kl_thrift_struct_end(&t);
	return t.err;
}
