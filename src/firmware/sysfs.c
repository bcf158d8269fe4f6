/* SPDX-License-Identifier: MIT */
/*
 * src/firmware/sysfs.c - a live host as sysfs shows it, under a root
 * directory (tests build fixtures; "/" is this host):
 *
 *   sys/firmware/acpi/tables/{DMAR,IORT}   the firmware tables
 *   sys/firmware/fdt                       the devicetree blob
 *   sys/class/iommu/dmarN/intel-iommu/{address,cap,ecap}   VT-d registers
 *   sys/kernel/iommu_groups/N/{type,devices/,reserved_regions}
 *   sys/bus/pci/devices/D/{class,iommu_group,iommu}
 *   sys/module/arm_smmu/parameters/disable_bypass
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fw_internal.h"

#define MAX_FILE (64u << 20)
#define NAME_LEN 256

int ap_fw_read_file(struct ap_fw *fw, const char *path, void **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b, *nb;
	int fd;

	if (!fw || !path || !buf || !len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EIO;

		snprintf(fw->err, sizeof(fw->err), "%s: %s", path, strerror(errno));
		return e;
	}
	if (!(b = ap_mem_alloc(fw->ctx, cap + 1))) {
		close(fd);
		return ap__fw_nomem(fw);
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= MAX_FILE) {
				close(fd);
				ap_mem_free(fw->ctx, b);
				snprintf(fw->err, sizeof(fw->err), "%s: larger than 64 MiB", path);
				return -EFBIG;
			}
			if (!(nb = ap_mem_realloc(fw->ctx, b, cap * 2 + 1))) {
				close(fd);
				ap_mem_free(fw->ctx, b);
				return ap__fw_nomem(fw);
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(fw->err, sizeof(fw->err), "%s: %s", path, strerror(errno));
			close(fd);
			ap_mem_free(fw->ctx, b);
			return -EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- helpers */

struct sysfs {
	struct ap_fw *fw;
	const char *root;
};

static void path_of(const struct sysfs *s, char *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_of(const struct sysfs *s, char *out, const char *fmt, ...)
{
	char rel[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (snprintf(out, PATH_MAX, "%s/%s", s->root, rel) >= PATH_MAX)
		out[0] = '\0'; /* too long: opens nothing */
}

/* A small text file, NUL-terminated and without trailing space; -ENOENT
 * if it is not there. */
static int read_text(struct sysfs *s, const char *path, char *out, size_t size)
{
	void *buf = NULL;
	size_t len = 0;
	int rc = ap_fw_read_file(s->fw, path, &buf, &len);

	if (rc || !buf)
		return rc ? rc : -EIO;
	while (len && (((char *)buf)[len - 1] == '\n' || ((char *)buf)[len - 1] == ' '))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(out, buf, len);
	out[len] = '\0';
	ap_mem_free(s->fw->ctx, buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The entries of a directory, sorted (names are NAME_LEN apart); 0 entries
 * when it is not there. */
static int list_dir(struct sysfs *s, const char *path, char **names, size_t *n)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	size_t cap = 0;
	char *v = NULL, *nv;

	*names = NULL;
	*n = 0;
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(nv = ap_mem_realloc(s->fw->ctx, v, cap * NAME_LEN))) {
				closedir(dir);
				ap_mem_free(s->fw->ctx, v);
				return ap__fw_nomem(s->fw);
			}
			v = nv;
		}
		snprintf(v + *n * NAME_LEN, NAME_LEN, "%s", e->d_name);
		(*n)++;
	}
	closedir(dir);
	if (v)
		qsort(v, *n, NAME_LEN, cmp_names);
	*names = v;
	return 0;
}

/* fn on every entry of the directory `rel` under the root, in name
 * order, until one fails; none when it is not there. */
static int each_entry(struct sysfs *s, const char *rel, int (*fn)(struct sysfs *, const char *))
{
	char path[PATH_MAX], *names;
	size_t n;
	int rc;

	path_of(s, path, "%s", rel);
	if ((rc = list_dir(s, path, &names, &n)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = fn(s, names + i * NAME_LEN);
	ap_mem_free(s->fw->ctx, names);
	return rc;
}

/* ---------------------------------------------------------------- tables */

static int table(struct sysfs *s, const char *rel, int (*add)(struct ap_fw *, const void *, size_t))
{
	char path[PATH_MAX];
	void *buf = NULL;
	size_t len = 0;
	int rc;

	path_of(s, path, "%s", rel);
	rc = ap_fw_read_file(s->fw, path, &buf, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = add(s->fw, buf, len);
	ap_mem_free(s->fw->ctx, buf);
	return rc;
}

/* ---------------------------------------------------------------- iommus */

static int hex_file(struct sysfs *s, const char *dir, const char *name, uint64_t *v)
{
	char path[PATH_MAX], text[64], *end;
	int rc;

	path_of(s, path, "sys/class/iommu/%s/intel-iommu/%s", dir, name);
	if ((rc = read_text(s, path, text, sizeof(text))))
		return rc;
	errno = 0;
	*v = strtoull(text, &end, 16);
	if (errno || end == text || *end)
		return ap__fw_err(s->fw, "%s:1: \"%s\" is not a hexadecimal number", path, text);
	return 0;
}

/* A VT-d unit's registers as the intel-iommu driver shows them; a unit no
 * table named is made from them. */
static int vtd_unit(struct sysfs *s, const char *name)
{
	uint64_t base, cap, ecap;
	char what[PATH_MAX];
	int rc;

	if ((rc = hex_file(s, name, "address", &base)) == -ENOENT)
		return 0;
	if (rc || (rc = hex_file(s, name, "cap", &cap)) || (rc = hex_file(s, name, "ecap", &ecap)))
		return rc;
	path_of(s, what, "sys/class/iommu/%s/intel-iommu", name);
	if ((rc = ap__fw_regs_checked(s->fw, what, base, AP_FW_REG_CAP, cap)) ||
	    (rc = ap__fw_regs_checked(s->fw, what, base, AP_FW_REG_ECAP, ecap)))
		return rc;
	if (ap__fw_unit_by_base(s->fw, base, AP_FW_VTD) < 0) {
		struct ap_fw_unit *u = ap__fw_push(s->fw, FV_UNIT);

		if (!u)
			return -ENOMEM;
		snprintf(u->name, sizeof(u->name), "%.31s", name);
		u->kind = AP_FW_VTD;
		u->origin = AP_FW_SYSFS;
		u->base = base;
	}
	return 0;
}

static int smmu_param(struct sysfs *s)
{
	char path[PATH_MAX], text[8];

	int rc;

	path_of(s, path, "sys/module/arm_smmu/parameters/disable_bypass");
	if ((rc = read_text(s, path, text, sizeof(text))))
		return rc == -ENOMEM ? rc : 0;
	s->fw->smmu_bypass_param = text[0] == 'N' || text[0] == 'n' || text[0] == '0';
	return 0;
}

/* ---------------------------------------------------------------- devices */

/* A hex field of a PCI name up to `stop` (or the end when stop is 0). */
static bool hex_field(const char **p, char stop, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isxdigit((unsigned char)**p))
		return false;
	v = strtoul(*p, &end, 16);
	if (v > max || *end != stop)
		return false;
	*out = (unsigned)v;
	*p = stop ? end + 1 : end;
	return true;
}

/* "DDDD:BB:DD.F" */
static bool pci_name(const char *name, unsigned *seg, unsigned *rid)
{
	unsigned d, b, dev, fn;
	const char *p = name;

	if (!hex_field(&p, ':', 0xffff, &d) || !hex_field(&p, ':', 255, &b) ||
	    !hex_field(&p, '.', 31, &dev) || !hex_field(&p, '\0', 7, &fn))
		return false;
	*seg = d;
	*rid = b << 8 | dev << 3 | fn;
	return true;
}

static int sysfs_dev(struct sysfs *s, const char *name)
{
	unsigned seg = 0, rid = 0;
	bool pci = pci_name(name, &seg, &rid), created;
	int i = ap__fw_dev_get(s->fw, name, pci ? AP_FW_DEV_PCI : AP_FW_DEV_PLATFORM,
			       AP_FW_SYSFS, &created);

	if (i >= 0 && created) {
		FW_DEV(s->fw, (size_t)i)->segment = seg;
		FW_DEV(s->fw, (size_t)i)->rid = rid;
	}
	return i;
}

/* "START END TYPE": two hex numbers and a word, as reserved_regions lines. */
static bool resv_line(const char *p, unsigned long long *start, unsigned long long *end,
		      char *type, size_t size)
{
	char *e;
	size_t n;

	*start = strtoull(p, &e, 16);
	if (e == p || *e != ' ')
		return false;
	p = e + 1;
	*end = strtoull(p, &e, 16);
	if (e == p || *e != ' ')
		return false;
	p = e + 1;
	n = strcspn(p, " \t");
	if (!n || n >= size || p[n])
		return false;
	memcpy(type, p, n);
	type[n] = '\0';
	return true;
}

/* The unit a device's `iommu` link names (sysfs class/iommu entry). */
static void dev_unit(struct sysfs *s, const char *dir, int dev)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	path_of(s, path, "%s/iommu", dir);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	for (size_t u = 0; u < FW_N(s->fw, FV_UNIT); u++)
		if (!strcmp(FW_UNIT(s->fw, u)->name, base))
			FW_DEV(s->fw, (size_t)dev)->unit = (int)u;
}

static int group_resv(struct sysfs *s, const char *path, const int *devs, size_t ndev)
{
	void *buf;
	size_t len;
	unsigned line = 1;
	int rc = ap_fw_read_file(s->fw, path, &buf, &len);
	char *p, *save = NULL;

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	for (p = strtok_r(buf, "\n", &save); p && !rc; p = strtok_r(NULL, "\n", &save), line++) {
		unsigned long long start, end;
		char type[32];
		int t;

		if (!resv_line(p, &start, &end, type, sizeof(type)) || end < start ||
		    (t = ap_resv_type_from_name(type)) < 0) {
			rc = ap__fw_err(s->fw, "%s:%u: \"%.80s\" is not \"START END TYPE\"", path,
					line, p);
			break;
		}
		if (end - start == UINT64_MAX) {
			rc = ap__fw_err(s->fw, "%s:%u: covers the whole address space, which no region "
					"size holds", path, line);
			break;
		}
		for (size_t k = 0; k < ndev && !rc; k++) {
			struct ap_fw_resv *r = ap__fw_push(s->fw, FV_RESV);

			if (!r) {
				rc = -ENOMEM;
				break;
			}
			r->dev = devs[k];
			r->unit = FW_DEV(s->fw, (size_t)devs[k])->unit;
			r->start = start;
			r->size = end - start + 1;
			r->type = (enum ap_resv_type)t;
			r->origin = AP_FW_SYSFS;
		}
	}
	ap_mem_free(s->fw->ctx, buf);
	return rc;
}

/* One IOMMU group: its type, its devices (each joins it, with its unit),
 * its reserved regions (for every member). */
static int group_members(struct sysfs *s, const char *gdir, int id, int **devs, size_t *ndev)
{
	char path[PATH_MAX], *names;
	size_t n;
	int rc;

	path_of(s, path, "%s/devices", gdir);
	if ((rc = list_dir(s, path, &names, &n)))
		return rc;
	*ndev = 0;
	*devs = ap_mem_alloc(s->fw->ctx, (n ? n : 1) * sizeof(int));
	if (!*devs) {
		ap_mem_free(s->fw->ctx, names);
		return ap__fw_nomem(s->fw);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		const char *name = names + i * NAME_LEN;
		int d = sysfs_dev(s, name);
		char ddir[PATH_MAX];

		if (d < 0) {
			rc = d;
			break;
		}
		FW_DEV(s->fw, (size_t)d)->group = id;
		FW_DEV(s->fw, (size_t)d)->flags |= AP_FW_DEV_DMA;
		snprintf(ddir, sizeof(ddir), "%s/devices/%s", gdir, name);
		dev_unit(s, ddir, d);
		(*devs)[(*ndev)++] = d;
	}
	ap_mem_free(s->fw->ctx, names);
	return rc;
}

static int group(struct sysfs *s, const char *name)
{
	char gdir[NAME_LEN + 32], path[PATH_MAX], *end;
	struct ap_fw_group *g;
	int *devs = NULL, rc;
	size_t ndev = 0;
	long id;

	errno = 0;
	id = strtol(name, &end, 10);
	if (errno || *end || id < 0 || id > INT_MAX)
		return ap__fw_note(s->fw, AP_FW_NOTE, "sysfs: iommu_groups/%s is not a group number; "
				   "skipped", name);
	if (!(g = ap__fw_push(s->fw, FV_GROUP)))
		return -ENOMEM;
	g->id = (int)id;
	snprintf(gdir, sizeof(gdir), "sys/kernel/iommu_groups/%s", name);
	path_of(s, path, "%s/type", gdir);
	if (read_text(s, path, g->type, sizeof(g->type)) == -ENOMEM)
		return -ENOMEM;
	rc = group_members(s, gdir, (int)id, &devs, &ndev);
	if (!rc) {
		path_of(s, path, "%s/reserved_regions", gdir);
		rc = group_resv(s, path, devs, ndev);
	}
	ap_mem_free(s->fw->ctx, devs);
	return rc;
}

/* Every PCI function but bridges (class 06) is a DMA master. */
static int pci_dev(struct sysfs *s, const char *name)
{
	char path[PATH_MAX], text[32];
	unsigned long cls = 0;
	int d;

	path_of(s, path, "sys/bus/pci/devices/%s/class", name);
	if (!(d = read_text(s, path, text, sizeof(text))))
		cls = strtoul(text, NULL, 16);
	else if (d == -ENOMEM)
		return d;
	if ((cls >> 16) == 0x06)
		return 0;
	if ((d = sysfs_dev(s, name)) < 0)
		return d;
	FW_DEV(s->fw, (size_t)d)->flags |= AP_FW_DEV_DMA | AP_FW_DEV_HOST;
	snprintf(path, sizeof(path), "sys/bus/pci/devices/%s", name);
	dev_unit(s, path, d);
	return 0;
}

static int import(struct sysfs *s)
{
	struct stat st;
	int rc;

	if (stat(s->root, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(s->fw->err, sizeof(s->fw->err), "%s: not a directory", s->root);
		return -ENOENT;
	}
	if ((rc = table(s, "sys/firmware/acpi/tables/DMAR", ap_fw_add_dmar)) ||
	    (rc = table(s, "sys/firmware/acpi/tables/IORT", ap_fw_add_iort)) ||
	    (rc = table(s, "sys/firmware/fdt", ap_fw_add_dtb)))
		return rc;
	if ((rc = each_entry(s, "sys/class/iommu", vtd_unit)) || (rc = smmu_param(s)) ||
	    (rc = each_entry(s, "sys/kernel/iommu_groups", group)))
		return rc;
	return each_entry(s, "sys/bus/pci/devices", pci_dev);
}

int ap_fw_add_sysfs(struct ap_fw *fw, const char *root)
{
	struct sysfs s = { .fw = fw, .root = root };
	struct fw_mark m;
	int rc;

	if (!fw || !root || !*root)
		return -EINVAL;
	if ((rc = ap__fw_mark(fw, &m)))
		return rc;
	return ap__fw_finish(fw, &m, import(&s));
}
