/*
 * sigv4_http.h — one SigV4-signed HTTP request: the single place that fills
 * the signer's credentials and clock (aws/sigv4.h) and lays its output out
 * as the headers an AWS call sends (aws/http.h). Every client (awsJson,
 * awsQuery/CloudWatch, STS, S3) describes only what differs — method, path,
 * query, the headers to sign, payload, region, service, flags.
 *
 * The headers to send come in one order: the signed ones except the first,
 * which is Host (libcurl sends it from the URL), then what the signature
 * adds (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256), then
 * Authorization.
 *
 * Ownership: the credentials are borrowed for the call only (the caller
 * wipes them afterwards); the headers filled in point into the request's
 * strings and into `res`, so they live until kl_sigv4_result_cleanup(res).
 */
#ifndef KL_AWS_SIGV4_HTTP_H
#define KL_AWS_SIGV4_HTTP_H

#include <stddef.h>
#include <time.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "core/err.h"

/* Room for the headers to send of a request that signs `n` headers. */
#define KL_SIGV4_HTTP_HEADERS(n) ((n) - 1 + KL_SIGV4_MAX_ADD + 1)

/* Sign `req` with `cr` at `now` (req's credential and clock fields are
 * ignored; req->headers[0] must be Host) into `res` (initialised by the
 * caller) and fill hh[0..*nh), which has room for
 * KL_SIGV4_HTTP_HEADERS(req->n_headers). KL_EINVAL without Host first, else
 * kl_sigv4_sign()'s result; on an error *nh is 0. */
int kl_sigv4_http_sign(const struct kl_sigv4_request *req, const struct kl_aws_creds *cr,
		       time_t now, struct kl_sigv4_result *res, struct kl_http_header *hh,
		       size_t *nh, struct kl_errbuf *eb);

#endif
