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
 * files and links the last input wrote, and the directories there, each
 * marked when the input being set up needs it.  Directories stay from one
 * input to the next (mutations of one input share most of them); those an
 * input does not need go before it runs, so the tree it sees is what it
 * describes, whatever ran before.
 *
 * The directories are those above the files and links, numbered once
 * (dir_table()) parents before children; each file and link knows the
 * numbers of the directories above it, so that a record finds them
 * without comparing paths (which cost a tenth of an input).
 */
static bool made[NFILES + NLINKS];  /* written by the input running */
static bool stale[NFILES + NLINKS]; /* there from the one before */
#define MAX_DIRS 64
#define MAX_DEPTH 8
static struct {
	char path[128];  /* relative to root */
	bool there;      /* made, and not removed since */
	bool needed;
} dirs[MAX_DIRS];
static size_t ndirs;
static unsigned char above[NFILES + NLINKS][MAX_DEPTH]; /* dirs above, outermost first */
static unsigned char nabove[NFILES + NLINKS];

static const char *rel_path(size_t pick)
{
	return pick < NFILES ? files[pick] : links[pick - NFILES][0];
}

/* The number of directory rel (its first len bytes), added if new. */
static unsigned char dir_number(const char *rel, size_t len)
{
	size_t i;

	for (i = 0; i < ndirs; i++)
		if (strlen(dirs[i].path) == len && !memcmp(dirs[i].path, rel, len))
			return (unsigned char)i;
	if (ndirs == MAX_DIRS || len >= sizeof(dirs[0].path))
		abort();
	memcpy(dirs[ndirs].path, rel, len);
	dirs[ndirs].path[len] = '\0';
	return (unsigned char)ndirs++;
}

/* Number every directory above every file and link, once. */
static void dir_table(void)
{
	for (size_t pick = 0; pick < NFILES + NLINKS; pick++) {
		const char *rel = rel_path(pick);

		for (const char *p = rel; *p; p++) {
			if (*p != '/')
				continue;
			if (nabove[pick] == MAX_DEPTH)
				abort();
			above[pick][nabove[pick]++] = dir_number(rel, (size_t)(p - rel));
		}
	}
}

/* The directories above file or link `pick`: made unless there, and needed. */
static void mkdirs(size_t pick)
{
	char path[512];

	for (unsigned i = 0; i < nabove[pick]; i++) {
		unsigned d = above[pick][i];

		if (!dirs[d].there) {
			snprintf(path, sizeof(path), "%s/%s", root, dirs[d].path);
			dirs[d].there = !mkdir(path, 0700) || errno == EEXIST;
		}
		dirs[d].needed = true;
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
		snprintf(path, sizeof(path), "%s/%s", root, rel_path(i));
		unlink(path);
		stale[i] = false;
	}
}

/* The directories no record needed go, children (numbered after their
 * parents) first. */
static void prune(void)
{
	char path[512];

	for (size_t i = ndirs; i-- > 0;) {
		if (!dirs[i].there || dirs[i].needed)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i].path);
		dirs[i].there = rmdir(path) != 0;
	}
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
			dir_table();
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

	mkdirs(pick);
	if (pick >= NFILES) {
		snprintf(path, sizeof(path), "%s/%s", root, links[pick - NFILES][0]);
		/* a link is the same link whoever made it */
		if ((stale[pick] && !made[pick]) || !symlink(links[pick - NFILES][1], path))
			made[pick] = true;
		return;
	}
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
