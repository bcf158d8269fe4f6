/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - aperture's benchmark suite, shared by the stand-alone
 * ap-bench binary and `aperture bench`.
 */
#ifndef APERTURE_BENCH_H
#define APERTURE_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Run the benchmarks and print the report to `out` (diagnostics go to
 * stderr).  argv holds the options only (no program name):
 *   --quick      small counts, about two seconds in all (smoke tests)
 *   --seed N     seed of the address generator (default 1)
 *   --only LIST  run only these sections: iotlb,translate,map,table,dma,formats,
 *                devices,vfio,virtio,vfio-scale
 *   --json       the figures as one JSON document (aperture-bench/1) on `out`
 *                instead of the text report
 * Each option at most once.
 *   --help       print usage to `out` and return 0
 * Returns 0 on success, 2 for bad arguments, 1 when a setup step or a
 * self-check (a translation or a DMA that gave the wrong answer) failed.
 */
int ap_bench_run(FILE *out, int argc, char **argv);

/* Where a section in its own file records a figure for --json. */
typedef void (*ap_bench_figure_fn)(void *arg, const char *name, double value, const char *unit);

/* The vfio-scale section (bench/vfio_scale.c); 0 or -1 (reason on stderr).
 * Each figure it prints also goes to fig(arg, ...). */
int ap_bench_vfio_scale(FILE *out, bool quick, uint64_t seed, ap_bench_figure_fn fig, void *arg);

#endif /* APERTURE_BENCH_H */
