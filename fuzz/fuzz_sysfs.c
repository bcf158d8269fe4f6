/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_sysfs.c - libFuzzer target: the sysfs importer on a directory
 * tree the input describes.  The input is a list of records: one byte
 * picks a file of a fixed set (firmware tables, VT-d register files, group
 * type and reserved_regions, PCI class, the Arm SMMU bypass parameter,
 * group membership and iommu links), two bytes give a length, the
 * content follows.  The tree lives in one temporary directory, emptied
 * (directories too) before every input, so that an input reads the same
 * tree whatever ran before it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_fw.h"
#include "fuzz_input.h"

static const char *const files[] = {
	"sys/firmware/acpi/tables/DMAR",
	"sys/firmware/acpi/tables/IORT",
	"sys/firmware/fdt",
	"sys/class/iommu/dmar0/intel-iommu/address",
	"sys/class/iommu/dmar0/intel-iommu/cap",
	"sys/class/iommu/dmar0/intel-iommu/ecap",
	"sys/class/iommu/dmar1/intel-iommu/address",
	"sys/class/iommu/dmar1/intel-iommu/cap",
	"sys/class/iommu/dmar1/intel-iommu/ecap",
	"sys/kernel/iommu_groups/0/type",
	"sys/kernel/iommu_groups/0/reserved_regions",
	"sys/kernel/iommu_groups/1/type",
	"sys/kernel/iommu_groups/1/reserved_regions",
	"sys/bus/pci/devices/0000:00:02.0/class",
	"sys/bus/pci/devices/0000:00:14.0/class",
	"sys/module/arm_smmu/parameters/disable_bypass",
};

/* Links: record selectors past the files. */
static const char *const links[][2] = {
	{ "sys/kernel/iommu_groups/0/devices/0000:00:02.0", "../../../../bus/pci/devices/0000:00:02.0" },
	{ "sys/kernel/iommu_groups/1/devices/0000:00:14.0", "../../../../bus/pci/devices/0000:00:14.0" },
	{ "sys/bus/pci/devices/0000:00:02.0/iommu", "../../../../class/iommu/dmar0" },
	{ "sys/bus/pci/devices/0000:00:14.0/iommu", "../../../../class/iommu/dmar1" },
	{ "sys/bus/pci/devices/0000:00:14.0/iommu_group", "../../../../kernel/iommu_groups/1" },
};

#define NFILES (sizeof(files) / sizeof(files[0]))
#define NLINKS (sizeof(links) / sizeof(links[0]))

static char root[64];

/*
 * What the current input made, so that emptying the tree before the next
 * one touches only that (a few system calls, not one per possible path):
 * which files and links, and the directories in the order they were made.
 */
static bool made[NFILES + NLINKS];
static char dirs[64][128];
static size_t ndirs;

/* The directories above rel, each made once per input. */
static void mkdirs(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		size_t i;

		if (*p != '/')
			continue;
		*p = '\0';
		for (i = 0; i < ndirs && strcmp(dirs[i], path); i++)
			;
		if (i == ndirs && ndirs < sizeof(dirs) / sizeof(dirs[0]) &&
		    strlen(path) < sizeof(dirs[0]) && !mkdir(path, 0700))
			strcpy(dirs[ndirs++], path);
		*p = '/';
	}
}

/* Back to an empty root: the files and links, then the directories,
 * deepest (made last) first. */
static void reset(void)
{
	char path[512];

	for (size_t i = 0; i < NFILES + NLINKS; i++) {
		if (!made[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, i < NFILES ? files[i] : links[i - NFILES][0]);
		unlink(path);
		made[i] = false;
	}
	while (ndirs)
		rmdir(dirs[--ndirs]);
}

static void cleanup(void)
{
	reset();
	rmdir(root);
}

/* A directory for the tree on a memory file system when there is one: every
 * input writes and removes files, which a disk's file system journals. */
static void make_root(void)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		snprintf(root, sizeof(root), "%s/ap-fuzz-sysfs-XXXXXX", bases[i]);
		if (mkdtemp(root)) {
			atexit(cleanup);
			return;
		}
	}
	abort();
}

static void record(struct fin *in)
{
	unsigned pick = fin_u8(in) % (NFILES + NLINKS);
	size_t len = fin_u8(in) | (size_t)fin_u8(in) << 8;
	char path[512];
	FILE *fp;

	if (pick >= NFILES) {
		mkdirs(links[pick - NFILES][0]);
		snprintf(path, sizeof(path), "%s/%s", root, links[pick - NFILES][0]);
		if (!symlink(links[pick - NFILES][1], path))
			made[pick] = true;
		return;
	}
	mkdirs(files[pick]);
	snprintf(path, sizeof(path), "%s/%s", root, files[pick]);
	if (len > in->n)
		len = in->n;
	fp = fopen(path, "wb");
	if (!fp)
		abort();
	made[pick] = true;
	fwrite(in->p, 1, len, fp);
	fclose(fp);
	in->p += len;
	in->n -= len;
}

static int import(struct ap_fw *fw, const void *data, size_t size)
{
	(void)data;
	(void)size;
	return ap_fw_add_sysfs(fw, root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	if (!root[0])
		make_root();
	reset();
	for (int n = 0; n < 32 && fin_more(&in); n++)
		record(&in);
	fw_run(import, data, size);
	return 0;
}
