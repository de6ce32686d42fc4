/* deadletter.c — see deadletter.h; format in DESIGN.md "Lake layout". */
#include "deadletter/deadletter.h"
#include "core/base64.h"
#include "event/event.h"

#include <inttypes.h>

int kl_deadletter_format(struct kl_buf *out, const struct kl_deadletter *d)
{
	int rc = kl_buf_puts(out, "{\"error\":\"");
	rc = rc ? rc : kl_json_escape_append(out, d->error, strlen(d->error));
	rc = rc ? rc : kl_buf_puts(out, "\",\"message\":\"");
	rc = rc ? rc : kl_json_escape_append(out, d->message, strlen(d->message));
	rc = rc ? rc : kl_buf_puts(out, "\",\"source\":\"");
	rc = rc ? rc : kl_json_escape_append(out, d->source, strlen(d->source));
	rc = rc ? rc : kl_buf_printf(out, "\",\"position\":%" PRIu64 ",\"error_offset\":%zu,",
				     d->position, d->error_offset);
	if (!rc && d->full_len > d->raw_len)
		rc = kl_buf_printf(out, "\"raw_length\":%zu,\"truncated\":true,", d->full_len);
	rc = rc ? rc : kl_buf_puts(out, "\"raw_base64\":\"");
	rc = rc ? rc : kl_base64_encode(out, d->raw, d->raw_len);
	rc = rc ? rc : kl_buf_puts(out, "\"}");
	return rc;
}
