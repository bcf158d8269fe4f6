/* SPDX-License-Identifier: MIT */
/* bench/main.c - stand-alone driver of the benchmark suite (make bench). */
#include "bench.h"

int main(int argc, char **argv)
{
	return ap_bench_run(stdout, argc - 1, argv + 1);
}
