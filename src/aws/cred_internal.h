/*
 * cred_internal.h — helpers shared by the credential provider files
 * (aws/cred_*.c); not part of the public API.
 */
#ifndef KL_AWS_CRED_INTERNAL_H
#define KL_AWS_CRED_INTERNAL_H

#include "aws/credentials.h"

/* Read a small file (token, shared config) into `out`, NUL-terminated,
 * trailing whitespace trimmed. KL_ENOTFOUND if it does not exist. */
int kl_cred_read_small_file(const char *path, struct kl_buf *out, struct kl_errbuf *eb);
/* AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1. */
const char *kl_cred_region(const struct kl_cred_ctx *c, const char *profile_region);
int kl_cred_assume_web_identity(const struct kl_cred_ctx *c, const char *role_arn,
				const char *token_file, const char *session_name,
				const char *region, struct kl_aws_creds *out,
				struct kl_errbuf *eb);

#endif
