/* SPDX-License-Identifier: MIT */
/*
 * A program that forks after opening its VFIO files: the child uses the
 * descriptors it inherited (and duplicates of them) for GET_INFO, its own
 * MAP_DMA and a DMA engine copy into its own memory through the inherited
 * BAR mapping; the parent, after the child exits, goes on with its own
 * mappings and copies.  Each process's memory is its own after fork, as
 * with the kernel.
 */
// shim-test: vtd.scn smmu.scn
#include <sys/wait.h>

#include "cr.h"

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 3);
}

int main(int argc, char **argv)
{
	const char *bdf = cr_bdf(argc, argv);
	struct cr v;
	volatile uint8_t *bar;
	uint8_t *mem = cr_buffer(32 * PAGE), *mine;
	struct ioat_desc *desc = (void *)mem;
	uint64_t base, child_base, done;
	int status;
	pid_t pid;

	cr_open(&v, bdf, VFIO_TYPE1v2_IOMMU);
	base = cr_iova(&v, 32 * PAGE, 0);
	child_base = cr_iova(&v, 32 * PAGE, 1);
	CHECK(!cr_map(&v, mem, base, 32 * PAGE), "parent map");
	bar = cr_device(&v, bdf, NULL);
	ioat_init(&v, bar);
	fill(mem + 8 * PAGE, PAGE, 1);
	CHECK(ioat_copy(bar, desc, base, base + 8 * PAGE, base + 16 * PAGE, PAGE, false) ==
		      IOAT_ST_DONE && !memcmp(mem + 8 * PAGE, mem + 16 * PAGE, PAGE),
	      "parent copy before fork");

	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct cr c = v;
		int dup_container = dup(v.container), dup_device = fcntl(v.device, F_DUPFD_CLOEXEC, 100);

		CHECK(dup_container >= 0 && dup_device >= 100, "dup in the child");
		c.container = dup_container;
		cr_info(&c);
		CHECK(c.nranges == v.nranges, "the child sees other ranges");
		mine = cr_buffer(32 * PAGE);
		CHECK(!cr_map(&c, mine, child_base, 32 * PAGE), "child map");
		CHECK(cr_map(&c, mine, base, PAGE) == EEXIST, "the parent's mapping is there");
		/* the child drives the device through the mapping it inherited */
		c.device = dup_device;
		ioat_init(&c, bar);
		fill(mine + 8 * PAGE, PAGE, 7);
		CHECK(ioat_copy(bar, (void *)mine, child_base, child_base + 8 * PAGE,
				child_base + 16 * PAGE, PAGE, false) == IOAT_ST_DONE,
		      "child copy: CHANERR 0x%x", mmio32(bar, IOAT_CHANERR));
		CHECK(!memcmp(mine + 8 * PAGE, mine + 16 * PAGE, PAGE), "child copy landed");
		CHECK(!cr_unmap(&c, child_base, 32 * PAGE, 0, &done) && done == 32 * PAGE,
		      "child unmap");
		CHECK(!close(dup_container) && !close(dup_device), "child close");
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed (status 0x%x)",
	      status);
	/* the parent's machine is as it left it: its mapping is there, the
	 * child's is not (the child unmapped it in its own copy) */
	CHECK(cr_map(&v, mem, base, PAGE) == EEXIST, "parent mapping gone");
	ioat_reset(bar);
	fill(mem + 8 * PAGE, PAGE, 3);
	CHECK(ioat_copy(bar, desc, base, base + 8 * PAGE, base + 16 * PAGE, PAGE, false) ==
		      IOAT_ST_DONE && !memcmp(mem + 8 * PAGE, mem + 16 * PAGE, PAGE),
	      "parent copy after the child");
	CHECK(!cr_unmap(&v, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done) && done == 32 * PAGE,
	      "parent UNMAP_ALL");
	printf("fork: child and parent each drove the device\n");
	return 0;
}
