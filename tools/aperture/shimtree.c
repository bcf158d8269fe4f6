/* SPDX-License-Identifier: MIT */
/*
 * The file tree a VFIO program expects, built from a scenario's machine
 * (for `aperture shim`), under a staging directory that mirrors / :
 *
 *   dev/vfio/vfio, dev/vfio/N            placeholders the shim takes over
 *   sys/devices/pciDDDD:BB/BDF/          vendor device subsystem_vendor
 *                                        subsystem_device class revision
 *                                        config resource numa_node irq enable
 *                                        iommu_group -> group, driver -> vfio-pci,
 *                                        subsystem -> bus/pci
 *   sys/bus/pci/devices/BDF              -> the function's directory
 *   sys/bus/pci/drivers/vfio-pci/BDF     -> the function's directory
 *   sys/kernel/iommu_groups/N/           devices/BDF, type, reserved_regions
 *   sys/module/vfio_iommu_type1/parameters/  dma_entry_limit, ...
 *   sys/kernel/debug/iommu/intel/BDF/domain_translation_struct
 *                                        (VT-d: rendered by the shim at open)
 *
 * with the formats Linux's sysfs uses (drivers/pci/pci-sysfs.c,
 * drivers/iommu/iommu.c); plus `manifest` (the placeholders, for the shim)
 * and `scenario.scn`.  The directories the tree replaces are the grafts.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): glibc's switch */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <aperture/aperture.h>

#include "shim_cli.h"

/* ------------------------------------------------------------ files */

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* stage/REL, its directory made first. */
static int put(const struct shim_tree *t, const char *rel, const void *data, size_t len,
	       mode_t mode)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", t->stage, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	err = mkdirs(dir);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (len && write(fd, data, len) != (ssize_t)len)
		err = -EIO;
	fchmod(fd, mode);
	close(fd);
	return err;
}

static int putf(const struct shim_tree *t, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int putf(const struct shim_tree *t, const char *rel, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return put(t, rel, text, (size_t)n, 0444);
}

static int link_at(const struct shim_tree *t, const char *rel, const char *target)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/%s", t->stage, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	err = mkdirs(dir);
	if (!err && symlink(target, path) && errno != EEXIST)
		err = -errno;
	return err;
}

/* ------------------------------------------------------------ the machine */

static bool has_group(const int *groups, size_t n, int g)
{
	for (size_t i = 0; i < n; i++)
		if (groups[i] == g)
			return true;
	return false;
}

/* What `type` shows: the domain type the group gets by default. */
static const char *group_type(struct ap_ctx *ctx, int group)
{
	for (struct ap_device *d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d)) {
		struct ap_domain *dom = ap_device_domain(d);

		if (ap_device_group_id(d) != group)
			continue;
		if (dom && ap_domain_type(dom) == AP_DOMAIN_IDENTITY)
			return "identity";
		if (dom && ap_domain_type(dom) == AP_DOMAIN_BLOCKED)
			return "blocked";
		if (!dom && ap_iommu_unmatched(ap_device_iommu(d)) == AP_UNMATCHED_BYPASS)
			return "identity";
	}
	return "DMA";
}

static int cmp_resv(const void *a, const void *b)
{
	const struct ap_resv *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return (int)x->type - (int)y->type;
}

/* reserved_regions: every device's, sorted, duplicates once ("msi" for
 * both hardware and software MSI windows, as Linux prints them). */
static int group_resv(const struct shim_tree *t, struct ap_ctx *ctx, int group)
{
	struct ap_resv r[64] = { { 0 } };
	char text[64 * 48], rel[96];
	size_t n = 0, at = 0;

	for (struct ap_device *d = ap_device_next(ctx, NULL); d; d = ap_device_next(ctx, d))
		for (size_t i = 0; ap_device_group_id(d) == group && n < 64 &&
				   !ap_device_resv(d, i, &r[n]); i++)
			n++;
	qsort(r, n, sizeof(r[0]), cmp_resv);
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		static const char *const names[] = { "direct", "direct-relaxable", "reserved",
						     "msi", "msi" };

		if (i && r[i].start == r[i - 1].start && r[i].end == r[i - 1].end &&
		    r[i].type == r[i - 1].type)
			continue;
		at += (size_t)snprintf(text + at, sizeof(text) - at, "0x%016llx 0x%016llx %s\n",
				       (unsigned long long)r[i].start, (unsigned long long)r[i].end,
				       r[i].type <= AP_RESV_SW_MSI ? names[r[i].type] : "reserved");
	}
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/reserved_regions", group);
	return put(t, rel, text, at, 0444);
}

/* pci-sysfs's `resource`: start, end and flags of each BAR and the ROM,
 * then the SR-IOV slots, 13 lines. */
static void resource_text(struct ap_pci *pci, char *text, size_t len)
{
	const struct ap_pci_config *c = ap_pci_get_config(pci);
	size_t at = 0;

	for (unsigned i = 0; i < 13; i++) {
		uint64_t start = 0, end = 0, flags = 0;

		if (i < AP_PCI_BARS && c->bar_size[i]) {
			uint32_t lo, hi = 0;

			ap_pci_config_read(pci, 0x10 + 4 * i, &lo, 4);
			if (c->bar_flags[i] & AP_PCI_BAR_64)
				ap_pci_config_read(pci, 0x14 + 4 * i, &hi, 4);
			start = ((uint64_t)hi << 32) | (lo & ~0xfu);
			end = start + c->bar_size[i] - 1;
			flags = (lo & 0xf) | 0x200 /* MEM */ | 0x40000 /* SIZEALIGN */ |
				((c->bar_flags[i] & AP_PCI_BAR_64) ? 0x100000 : 0) |
				((c->bar_flags[i] & AP_PCI_BAR_PREFETCH) ? 0x2000 : 0);
		}
		at += (size_t)snprintf(text + at, len - at, "0x%016llx 0x%016llx 0x%016llx\n",
				       (unsigned long long)start, (unsigned long long)end,
				       (unsigned long long)flags);
	}
}

static int function_files(struct shim_tree *t, struct ap_ctx *ctx, struct ap_pci *pci)
{
	const struct ap_pci_config *c = ap_pci_get_config(pci);
	const char *bdf = ap_pci_name(pci);
	int group = ap_device_group_id(ap_pci_device(pci));
	char dir[96], rel[160], target[128], text[2048];
	uint8_t cfg[4096];
	int err = 0;

	snprintf(dir, sizeof(dir), "sys/devices/pci%.7s/%s", bdf, bdf);
#define F(name, ...) do { snprintf(rel, sizeof(rel), "%s/" name, dir); \
			  err = err ? err : putf(t, rel, __VA_ARGS__); } while (0)
	F("vendor", "0x%04x\n", c->vendor);
	F("device", "0x%04x\n", c->device);
	F("subsystem_vendor", "0x%04x\n", c->subsystem_vendor);
	F("subsystem_device", "0x%04x\n", c->subsystem_device);
	F("class", "0x%06x\n", c->class_code);
	F("revision", "0x%02x\n", c->revision);
	F("numa_node", "-1\n");
	F("irq", "0\n");
	F("enable", "1\n");
	F("local_cpulist", "0\n");
#undef F
	resource_text(pci, text, sizeof(text));
	snprintf(rel, sizeof(rel), "%s/resource", dir);
	err = err ? err : put(t, rel, text, strlen(text), 0444);
	ap_pci_config_read(pci, 0, cfg, ap_pci_config_size(pci));
	snprintf(rel, sizeof(rel), "%s/config", dir);
	err = err ? err : put(t, rel, cfg, ap_pci_config_size(pci), 0644);
	snprintf(rel, sizeof(rel), "%s/iommu_group", dir);
	snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
	err = err ? err : link_at(t, rel, target);
	snprintf(rel, sizeof(rel), "%s/driver", dir);
	err = err ? err : link_at(t, rel, "../../../bus/pci/drivers/vfio-pci");
	snprintf(rel, sizeof(rel), "%s/subsystem", dir);
	err = err ? err : link_at(t, rel, "../../../bus/pci");
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", bdf);
	snprintf(target, sizeof(target), "../../../devices/pci%.7s/%s", bdf, bdf);
	err = err ? err : link_at(t, rel, target);
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/vfio-pci/%s", bdf);
	snprintf(target, sizeof(target), "../../../../devices/pci%.7s/%s", bdf, bdf);
	err = err ? err : link_at(t, rel, target);
	snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/devices/%s", group, bdf);
	err = err ? err : link_at(t, rel, target);
	if (!err && ap_iommu_domain_format(ap_device_iommu(ap_pci_device(pci))) ==
			    AP_PT_INTEL_VTD_SL) {
		snprintf(rel, sizeof(rel), "sys/kernel/debug/iommu/intel/%s/domain_translation_struct",
			 bdf);
		err = put(t, rel, "", 0, 0444);
		fprintf(t->manifest, "debugfs %s /%s\n", bdf, rel);
		t->debugfs = true;
	}
	(void)ctx;
	return err;
}

/* A graft: a directory the tree replaces wholesale. */
static void graft(struct shim_tree *t, const char *dir)
{
	for (unsigned i = 0; i < t->ngrafts; i++)
		if (!strcmp(t->grafts[i], dir))
			return;
	if (t->ngrafts < SHIM_TREE_GRAFTS)
		snprintf(t->grafts[t->ngrafts++], sizeof(t->grafts[0]), "%s", dir);
}

static int groups_files(struct shim_tree *t, struct ap_ctx *ctx)
{
	int groups[256];
	size_t n = 0;
	char rel[96];
	int err = 0;

	for (struct ap_device *d = ap_device_next(ctx, NULL); d && n < 256;
	     d = ap_device_next(ctx, d))
		if (!has_group(groups, n, ap_device_group_id(d)))
			groups[n++] = ap_device_group_id(d);
	for (size_t i = 0; i < n && !err; i++) {
		/* no /dev/vfio/N behind an IOMMU Linux would not give VFIO */
		struct ap_device *d;

		for (d = ap_device_next(ctx, NULL); ap_device_group_id(d) != groups[i];
		     d = ap_device_next(ctx, d))
			;
		snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/type", groups[i]);
		err = putf(t, rel, "%s\n", group_type(ctx, groups[i]));
		err = err ? err : group_resv(t, ctx, groups[i]);
		snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/devices", groups[i]);
		if (!err) {
			char path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s", t->stage, rel);
			err = mkdirs(path);
		}
		if (err || !ap_iommu_capable(ap_device_iommu(d), AP_CAP_CACHE_COHERENCY))
			continue;
		snprintf(rel, sizeof(rel), "dev/vfio/%d", groups[i]);
		err = put(t, rel, "", 0, 0666);
		fprintf(t->manifest, "group %d /%s\n", groups[i], rel);
	}
	return err;
}

int shim_tree_build(struct shim_tree *t, struct ap_ctx *ctx, const char *scenario_text,
		    size_t scenario_len)
{
	char path[PATH_MAX];
	int err;

	snprintf(path, sizeof(path), "%s/manifest", t->stage);
	t->manifest = fopen(path, "we");
	if (!t->manifest)
		return -errno;
	err = put(t, "scenario.scn", scenario_text, scenario_len, 0444);
	err = err ? err : put(t, "dev/vfio/vfio", "", 0, 0666);
	fprintf(t->manifest, "container /dev/vfio/vfio\n");
	err = err ? err : groups_files(t, ctx);
	graft(t, "/dev/vfio");
	graft(t, "/sys/bus/pci/devices");
	graft(t, "/sys/bus/pci/drivers/vfio-pci");
	graft(t, "/sys/kernel/iommu_groups");
	graft(t, "/sys/module/vfio_iommu_type1");
	for (struct ap_pci *pci = ap_pci_next(ctx, NULL); pci && !err; pci = ap_pci_next(ctx, pci)) {
		char root[32];

		err = function_files(t, ctx, pci);
		snprintf(root, sizeof(root), "/sys/devices/pci%.7s", ap_pci_name(pci));
		graft(t, root);
	}
	err = err ? err : mkdirs(strcat(strcpy(path, t->stage), "/sys/bus/pci/devices"));
	err = err ? err : mkdirs(strcat(strcpy(path, t->stage), "/sys/bus/pci/drivers/vfio-pci"));
	err = err ? err : putf(t, "sys/module/vfio_iommu_type1/parameters/dma_entry_limit", "%u\n",
			       ap_vfio_dma_entry_limit(ctx));
	err = err ? err : putf(t, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
			       "N\n");
	err = err ? err : putf(t, "sys/module/vfio_iommu_type1/parameters/disable_hugepages", "N\n");
	if (t->debugfs)
		graft(t, "/sys/kernel/debug/iommu");
	if (fclose(t->manifest) && !err)
		err = -errno;
	t->manifest = NULL;
	return err;
}
