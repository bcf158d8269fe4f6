/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_dtb.c - libFuzzer target: the DTB importer on arbitrary bytes
 * (seeds: fuzz/corpus/fuzz_dtb, written by fuzz/mkseeds; the runner adds the
 * real tables beside the repository when they are there).
 */
#include <errno.h>

#include "fuzz_fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fw_run(ap_fw_add_dtb, data, size);
	return 0;
}
