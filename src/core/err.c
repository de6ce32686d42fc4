/* err.c — see err.h. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *kl_strerror(int err)
{
	switch ((enum kl_err)err) {
	case KL_OK: return "success";
	case KL_ENOMEM: return "out of memory";
	case KL_EIO: return "I/O error";
	case KL_EINVAL: return "invalid argument";
	case KL_EPARSE: return "malformed input";
	case KL_ELIMIT: return "limit exceeded";
	case KL_ENOTFOUND: return "not found";
	case KL_ECORRUPT: return "corrupt state";
	case KL_ERETRY: return "transient failure";
	case KL_EAUTH: return "authentication failed";
	case KL_EREMOTE: return "remote error";
	case KL_EINTR: return "interrupted";
	case KL_EUNSUPPORTED: return "unsupported";
	case KL_ECONFLICT: return "conditional write refused";
	}
	return "unknown error";
}

int kl_errbuf_vset(struct kl_errbuf *eb, int code, const char *fmt, va_list ap)
{
	if (!eb || eb->code != KL_OK)
		return code;
	vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
	eb->code = code;
	return code;
}

int kl_errbuf_set(struct kl_errbuf *eb, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kl_errbuf_vset(eb, code, fmt, ap);
	va_end(ap);
	return code;
}

void kl_errbuf_clear(struct kl_errbuf *eb)
{
	eb->msg[0] = '\0';
	eb->code = KL_OK;
}
