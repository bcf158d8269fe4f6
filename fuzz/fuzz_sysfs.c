/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_sysfs.c - libFuzzer target: the sysfs importer on a directory
 * tree the input describes.  The input is a list of records: one byte
 * picks a file of a fixed set (firmware tables, VT-d register files, group
 * type and reserved_regions, PCI class, the Arm SMMU bypass parameter,
 * group membership and iommu links), two bytes give a length, the
 * content follows.  The tree lives in one temporary directory and holds
 * exactly what the input describes (the files and links it writes and the
 * directories above them), whatever ran before it.
 */
#include <errno.h>
#include <fcntl.h>
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
 * What is in the tree, so that getting it ready for the next input touches
 * only what differs (a few system calls, not one per possible path): the
 * files and links the last input wrote, and the directories in the order
 * they were made, each marked when the input being set up needs it.
 * Directories stay from one input to the next (mutations of one input
 * share most of them); those an input does not need go before it runs, so
 * the tree it sees is what it describes, whatever ran before.
 */
static bool made[NFILES + NLINKS];  /* written by the input running */
static bool stale[NFILES + NLINKS]; /* there from the one before */
static struct {
	char path[128];
	bool needed;
} dirs[64];
static size_t ndirs;

/* The directories above rel: made unless there, and needed. */
static void mkdirs(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		size_t i;

		if (*p != '/')
			continue;
		*p = '\0';
		for (i = 0; i < ndirs && strcmp(dirs[i].path, path); i++)
			;
		if (i < ndirs) {
			dirs[i].needed = true;
		} else if (ndirs < sizeof(dirs) / sizeof(dirs[0]) &&
			   strlen(path) < sizeof(dirs[0].path) && !mkdir(path, 0700)) {
			strcpy(dirs[ndirs].path, path);
			dirs[ndirs++].needed = true;
		}
		*p = '/';
	}
}

/* The files and links the last input wrote are stale (an input that
 * writes a file again truncates it: mutations of one input mostly write
 * the same files, and on tmpfs an unlink and a create cost more than the
 * write); every directory is unneeded until an input's record asks for it. */
static void reset(void)
{
	for (size_t i = 0; i < NFILES + NLINKS; i++) {
		stale[i] = made[i];
		made[i] = false;
	}
	for (size_t i = 0; i < ndirs; i++)
		dirs[i].needed = false;
}

/* The stale files and links this input did not write again go. */
static void drop_stale(void)
{
	char path[512];

	for (size_t i = 0; i < NFILES + NLINKS; i++) {
		if (!stale[i] || made[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, i < NFILES ? files[i] : links[i - NFILES][0]);
		unlink(path);
		stale[i] = false;
	}
}

/* The directories no record needed go, deepest (made last) first; the
 * list keeps its order, parents before children. */
static void prune(void)
{
	size_t kept = 0;

	for (size_t i = ndirs; i-- > 0;)
		if (!dirs[i].needed)
			rmdir(dirs[i].path);
	for (size_t i = 0; i < ndirs; i++)
		if (dirs[i].needed)
			dirs[kept++] = dirs[i];
	ndirs = kept;
}

static void cleanup(void)
{
	reset();
	drop_stale();
	prune();
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
	int fd;

	if (pick >= NFILES) {
		mkdirs(links[pick - NFILES][0]);
		snprintf(path, sizeof(path), "%s/%s", root, links[pick - NFILES][0]);
		/* a link is the same link whoever made it */
		if ((stale[pick] && !made[pick]) || !symlink(links[pick - NFILES][1], path))
			made[pick] = true;
		return;
	}
	mkdirs(files[pick]);
	snprintf(path, sizeof(path), "%s/%s", root, files[pick]);
	if (len > in->n)
		len = in->n;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	made[pick] = true;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, in->p + done, len - done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	close(fd);
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
	drop_stale();
	prune();
	fw_run(import, data, size);
	return 0;
}
