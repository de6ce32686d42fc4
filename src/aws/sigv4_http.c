/* sigv4_http.c — see sigv4_http.h. */
#include "aws/sigv4_http.h"

#include <strings.h>

int kl_sigv4_http_sign(const struct kl_sigv4_request *req, const struct kl_aws_creds *cr,
		       time_t now, struct kl_sigv4_result *res, struct kl_http_header *hh,
		       size_t *nh, struct kl_errbuf *eb)
{
	*nh = 0;
	if (!req->n_headers || strcasecmp(req->headers[0].name, "Host") != 0)
		return kl_errbuf_set(eb, KL_EINVAL, "sigv4: the first header to sign must be Host");
	struct kl_sigv4_request sr = *req;
	sr.access_key_id = cr->access_key_id;
	sr.secret_access_key = cr->secret_access_key;
	sr.session_token = cr->session_token;
	sr.amz_date = NULL;
	sr.now = now;
	int rc = kl_sigv4_sign(&sr, res, eb);
	if (rc)
		return rc;
	size_t n = 0;
	for (size_t i = 1; i < sr.n_headers; i++) /* Host: libcurl sends it from the URL */
		hh[n++] = (struct kl_http_header){sr.headers[i].name, sr.headers[i].value};
	for (size_t i = 0; i < res->n_add; i++)
		hh[n++] = (struct kl_http_header){res->add[i].name, res->add[i].value};
	hh[n++] = (struct kl_http_header){"Authorization", res->authz.data};
	*nh = n;
	return KL_OK;
}
