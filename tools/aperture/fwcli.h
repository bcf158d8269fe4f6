/* SPDX-License-Identifier: MIT */
/* tools/aperture/fwcli.h - the firmware commands of the CLI. */
#ifndef AP_FWCLI_H
#define AP_FWCLI_H

#include <stdbool.h>

struct ap_ctx;

int ap_cli_import(struct ap_ctx *ctx, int argc, char **argv);
/* Whether `audit`'s arguments are firmware options (--host, --dmar, ...). */
bool ap_cli_is_fw_audit(int argc, char **argv);
int ap_cli_fw_audit(struct ap_ctx *ctx, int argc, char **argv);

#endif
