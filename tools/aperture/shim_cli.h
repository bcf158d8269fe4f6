/* SPDX-License-Identifier: MIT */
/* `aperture shim`: the launcher's pieces (shim.c runs, shimtree.c builds). */
#ifndef AP_SHIM_CLI_H
#define AP_SHIM_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include <aperture/aperture.h>

#define SHIM_TREE_GRAFTS 16

struct shim_tree {
	char stage[PATH_MAX - 256]; /* mirrors / */
	FILE *manifest;
	char grafts[SHIM_TREE_GRAFTS][128];
	unsigned ngrafts;
	bool debugfs;
};

/* Build the tree of ctx's machine under t->stage; negative errno. */
int shim_tree_build(struct shim_tree *t, struct ap_ctx *ctx, const char *scenario_text,
		    size_t scenario_len);

/* `aperture shim` (main.c dispatches here). */
int ap_cli_shim(int argc, char **argv);

#endif
