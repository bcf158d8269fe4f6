/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_scenario.c - libFuzzer target: the scenario parser and executor.
 *
 * The input is a scenario script.  It runs in a fresh context (echo on for
 * odd-length inputs, so the echo path is covered too); then, whatever the
 * outcome, for an eighth of the inputs every view a tool offers on what the
 * script built is printed: `show` of the machine and of each object by
 * name, `dump` of each domain, `audit`; for another sixteenth their JSON
 * forms, the SVG picture and `dump --ranges`.  The output goes to a sink that keeps nothing
 * (fuzz_sink.h); the sanitizers are the oracle.
 *
 * Scripts may ask for a lot of memory legitimately (`ram 0 1T`, a 1G
 * `vfio map`, a 256M `dma`); a fuzzer that finds those learns nothing about
 * the parser and runs out of memory.  So inputs that would allocate more
 * than a small budget (RAM, bytes moved, leaves mapped) are skipped before
 * they run (see budget_ok()).  The
 * budget is counted from the words the library would see, with its own
 * number parser.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aperture/aperture.h>

#include "fuzz_sink.h"

#define MAX_RAM (64ull << 20)       /* RAM and VFIO memory a script may allocate */
#define MAX_DMA (1ull << 20)        /* bytes one `dma` may move */
#define MAX_LEAVES 16384ull        /* leaves all `map`s together may make */
#define MAX_DIRTY (4ull << 30)      /* span a `vfio dirty` may count */
#define MAX_WORDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct budget {
	uint64_t ram, leaves;
};

/* The size word `at` of a line, or 0 when it is not a number (the library
 * will refuse the line itself). */
static uint64_t size_word(char **w, int n, int at)
{
	uint64_t v = 0;

	if (at >= n || ap_parse_size(w[at], &v))
		return 0;
	return v;
}

/*
 * The leaves `map DOMAIN IOVA PA SIZE` makes at the most: the core splits
 * the range into the largest page sizes that alignment allows, as Linux's
 * iommu_map, so the lowest set bit of iova | pa | size bounds the leaf
 * size from below (4K at the least, 1G at the most in any format here).
 * A script that maps 1 GiB as 4K pages makes 262,144 leaves and every view
 * prints each of them; it teaches the fuzzer nothing a 64 MiB one does not,
 * at a thousand times the cost of an input.
 */
static uint64_t map_leaves(char **w, int n)
{
	uint64_t iova = size_word(w, n, 2), pa = size_word(w, n, 3), size = size_word(w, n, 4);
	uint64_t align = (iova | pa | size) & -(iova | pa | size);

	if (!size)
		return 0;
	if (align < 4096)
		align = 4096;
	if (align > (1ull << 30))
		align = 1ull << 30;
	return size / align + 1;
}

/* Charge one line against the budget; false if it would exceed it. */
static bool line_ok(char *line, struct budget *b)
{
	char *w[MAX_WORDS], *save = NULL, *hash = strchr(line, '#'), *p;
	int n = 0;

	if (hash)
		*hash = '\0';
	for (p = strtok_r(line, " \t\r\f\v", &save); p && n < MAX_WORDS;
	     p = strtok_r(NULL, " \t\r\f\v", &save))
		w[n++] = p;
	if (n == 0)
		return true;
	if (!strcmp(w[0], "ram"))
		b->ram += size_word(w, n, 2) > MAX_RAM ? MAX_RAM + 1 : size_word(w, n, 2);
	else if (!strcmp(w[0], "dma"))
		return size_word(w, n, 4) <= MAX_DMA;
	else if (!strcmp(w[0], "map"))
		b->leaves += map_leaves(w, n) > MAX_LEAVES ? MAX_LEAVES + 1 : map_leaves(w, n);
	else if (!strcmp(w[0], "vfio") && n > 1 && !strcmp(w[1], "map"))
		b->ram += size_word(w, n, 4) > MAX_RAM ? MAX_RAM + 1 : size_word(w, n, 4);
	else if (!strcmp(w[0], "vfio") && n > 1 && !strcmp(w[1], "dirty"))
		return size_word(w, n, 4) <= MAX_DIRTY;
	return b->ram <= MAX_RAM && b->leaves <= MAX_LEAVES;
}

/* Whether the script stays within the harness's memory and time budget. */
static bool budget_ok(const char *text)
{
	struct budget b = { 0, 0 };
	char line[1100];

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);

		/* longer lines are refused by the parser before they run */
		if (len < sizeof(line)) {
			memcpy(line, text, len);
			line[len] = '\0';
			if (!line_ok(line, &b))
				return false;
		}
		text += len + (nl ? 1 : 0);
	}
	return true;
}

/* The JSON views, the picture and dump --ranges, for some inputs (each view costs what
 * the script did again). */
static void json_views(struct ap_ctx *ctx, FILE *out)
{
	struct ap_domain *dom = NULL;

	ap_show_as(ctx, out, AP_VIEW_JSON, AP_OBJECT_ANY, NULL);
	ap_audit_as(ctx, out, AP_VIEW_JSON);
	ap_draw_svg(ctx, out, "fuzz <&>");
	while ((dom = ap_domain_next(ctx, dom))) {
		ap_show_as(ctx, out, AP_VIEW_JSON, AP_OBJECT_DOMAIN, ap_domain_name(dom));
		ap_dump_as(dom, out, AP_VIEW_TEXT, AP_DUMP_RANGES);
		ap_dump_as(dom, out, AP_VIEW_JSON, AP_DUMP_RANGES);
		ap_dump_as(dom, out, AP_VIEW_JSON, 0);
	}
}

/* Every view of what the script left behind, as `aperture show|dump|audit`. */
static void views(struct ap_ctx *ctx, FILE *out)
{
	struct ap_iommu *i = NULL;
	struct ap_device *d = NULL;
	struct ap_domain *dom = NULL;
	struct ap_vfio_container_info ci;

	ap_show(ctx, out, NULL);
	ap_audit(ctx, out);
	while ((i = ap_iommu_next(ctx, i)))
		ap_show(ctx, out, ap_iommu_name(i));
	while ((d = ap_device_next(ctx, d)))
		ap_show(ctx, out, ap_device_name(d));
	while ((dom = ap_domain_next(ctx, dom))) {
		ap_show(ctx, out, ap_domain_name(dom));
		ap_dump(dom, out);
	}
	ap_show(ctx, out, "no-such-object");
	for (size_t c = 0; !ap_vfio_container_info(ctx, c, &ci); c++) {
		int g;
		uint64_t s, e;

		for (size_t n = 0; !ap_vfio_container_group(ctx, c, n, &g); n++)
			;
		for (size_t n = 0; ap_vfio_container_domain(ctx, c, n); n++)
			;
		for (size_t n = 0; !ap_vfio_container_iova(ctx, c, n, &s, &e); n++)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ap_ctx *ctx;
	char *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!budget_ok(text)) {
		free(text);
		return -1; /* not worth keeping in the corpus */
	}
	ctx = ap_ctx_new();
	if (ctx) {
		/* VFIO maps must not depend on the fuzzing machine's ulimit -l */
		ap_vfio_set_memlock_limit(ctx, UINT64_MAX);
		ap_scenario_run(ctx, "fuzz.scn", text, fuzz_sink(), (size & 1) ? AP_SCENARIO_ECHO : 0);
		(void)ap_ctx_error(ctx);
		/* The views cost as much as the script does (every leaf printed
		 * several ways, and libFuzzer's bookkeeping of the code they
		 * reach: perf, issue 15), so an eighth of the inputs print the
		 * text views and a sixteenth the JSON and SVG ones, chosen by
		 * length as the echo is: the parser and executor, where the
		 * inputs differ most, run at every input. */
		if ((size & 14) == 0)
			views(ctx, fuzz_sink());
		if ((size & 30) == 16)
			json_views(ctx, fuzz_sink());
		ap_ctx_free(ctx);
	}
	free(text);
	return 0;
}
