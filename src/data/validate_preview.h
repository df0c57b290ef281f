/* validate_preview.h: a validation report's preview of one valid example (ValidatePreview in
 * validate.h), for validate.c. */
#ifndef FTUNE_VALIDATE_PREVIEW_H
#define FTUNE_VALIDATE_PREVIEW_H

#include "example_messages.h"
#include "validate.h"

struct TextModel;

/* Appends to rep->previews the example em (found on line) as tm renders and tokenizes it for
 * training. Returns 0, or -1 with err set (ERR_ARG when the template cannot render it, ERR_NOMEM). */
int preview_add(ValidateReport *rep, const struct TextModel *tm, const ExampleMessages *em, long line, Err *err);

/* Frees what preview_add allocated for p. */
void preview_free(ValidatePreview *p);

#endif
