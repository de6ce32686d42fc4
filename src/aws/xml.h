/*
 * xml.h — just enough XML to read AWS responses (S3 errors, STS results).
 *
 * Not a parser: kl_xml_find() finds the first element `<tag>` (no attributes
 * or with attributes) in p[0..n) and appends its text content, with the five
 * predefined entities and numeric character references decoded, to `out`.
 * Nested elements inside the match are not supported (AWS leaf values never
 * nest). CDATA sections are copied verbatim. The input is borrowed; `out` is
 * caller-owned.
 */
#ifndef KL_AWS_XML_H
#define KL_AWS_XML_H

#include "core/buf.h"

/* KL_OK, KL_ENOTFOUND (no such element), KL_EPARSE (unterminated), KL_ENOMEM.
 * `within` (may be NULL) restricts the search to the content of the first
 * `<within>` element, e.g. kl_xml_find(p, n, "Credentials", "AccessKeyId", out). */
int kl_xml_find(const char *p, size_t n, const char *within, const char *tag, struct kl_buf *out);

/* Iterate over the `<tag>` elements of p[0..n) in document order (repeated
 * elements such as a listing's <Contents>): the raw content span of the next
 * one that starts at or after *pos, and *pos moves past its end tag. Start
 * with *pos = 0. KL_OK, KL_ENOTFOUND (no more), KL_EPARSE (unterminated). */
int kl_xml_next(const char *p, size_t n, const char *tag, size_t *pos, const char **content,
		size_t *len);

#endif
