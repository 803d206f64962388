/* libFuzzer target for the control-message decoder and the text command parser:
 * any bytes must be refused cleanly or decode to a request that validates or is
 * refused with a message; text lines that parse must survive a wire round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	E2__Dp__Request *req = e2__dp__request__unpack(NULL, size, data);
	if (req) {
		if (e2_ctl_validate(req, err, sizeof(err)) != 0 && err[0] == '\0')
			abort(); /* a refusal must say why */
		e2__dp__request__free_unpacked(req, NULL);
	}

	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	req = e2_ctl_parse_line(line, err, sizeof(err));
	if (req) {
		size_t len = e2__dp__request__get_packed_size(req);
		uint8_t *buf = malloc(len + 1);
		e2__dp__request__pack(req, buf);
		E2__Dp__Request *back = e2__dp__request__unpack(NULL, len, buf);
		if (!back)
			abort(); /* what we encode we must decode */
		e2_ctl_validate(back, err, sizeof(err));
		e2__dp__request__free_unpacked(back, NULL);
		free(buf);
		e2__dp__request__free_unpacked(req, NULL);
	}
	free(line);
	return 0;
}
