/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void e2_seterr(struct e2_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void e2_err_context(struct e2_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	char ctx[E2_ERR_MSG_MAX], old[E2_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	snprintf(err->msg, sizeof(err->msg), "%s: %s", ctx, old);
}
