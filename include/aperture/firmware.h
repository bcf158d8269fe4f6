/* SPDX-License-Identifier: MIT */
/*
 * aperture/firmware.h - machine descriptions from firmware: ACPI DMAR (Intel
 * VT-d), ACPI IORT (Arm), a flattened devicetree, IOMMU register values and
 * a live host's sysfs.
 *
 * The importers fill one plain description (struct ap_fw_desc): IOMMU units
 * with their base address and what their registers say, devices with the
 * stream IDs (or PCI requester IDs) they issue, reserved regions, IOMMU
 * groups, per-device address limits, and notes.  Nothing here touches a
 * machine model; a frontend turns the description into one.
 *
 * Tables say where an IOMMU is and whom it serves; its widths, page sizes
 * and pass-through support are in its ID/capability registers.  Without
 * register values (ap_fw_add_regs(), or sysfs cap/ecap files) a unit gets
 * stated defaults and `caps.from_regs` is false ("assumed").
 *
 * Ownership.  A description is allocated from a context's allocator
 * (ap_mem_alloc, so ap_ctx_fail_nth() reaches every allocation here) and
 * must be freed with ap_fw_free() before that context.  Input buffers are
 * only read during the call.  Pointers returned by ap_fw_desc() stay valid
 * until the next ap_fw_add_*() or ap_fw_free().
 *
 * Errors.  ap_fw_add_*() return 0 or a negative errno: -EINVAL for input
 * that is malformed (ap_fw_error() names the table, the byte offset and the
 * field: "DMAR +0x30: DRHD Length 0 is shorter than its 16-byte header";
 * text input is FILE:LINE), -ENOENT for a file or directory that is not
 * there, -EIO for one that cannot be read, -ENOMEM.  A failed call leaves
 * the description exactly as it was.  Input Linux accepts with a warning
 * is accepted with a warning note (AP_FW_WARNING) that says what Linux
 * does.  No importer reads outside the buffer it was given.
 */
#ifndef APERTURE_FIRMWARE_H
#define APERTURE_FIRMWARE_H

#include <stdio.h>

#include <aperture/core.h>
#include <aperture/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ap_fw;

/* What kind of IOMMU a unit is. */
enum ap_fw_unit_kind {
	AP_FW_VTD = 1,      /* Intel VT-d remapping unit (DMAR DRHD) */
	AP_FW_SMMUV3 = 2,   /* Arm SMMUv3 */
	AP_FW_ARM_SMMU = 3, /* Arm SMMUv1/v2, MMU-400/401/500 */
};

/* Where an object was described. */
enum ap_fw_origin {
	AP_FW_DMAR = 1,
	AP_FW_IORT = 2,
	AP_FW_DT = 3,
	AP_FW_SYSFS = 4,
	AP_FW_REGS = 5,
};

/* Arm SMMUv1/v2 models (IORT SMMU node Model field, or devicetree
 * compatible). */
enum ap_fw_smmu_model {
	AP_FW_SMMU_GENERIC_V1 = 0,
	AP_FW_SMMU_GENERIC_V2 = 1,
	AP_FW_SMMU_MMU400 = 2,
	AP_FW_SMMU_MMU500 = 3,
	AP_FW_SMMU_MMU401 = 4,
	AP_FW_SMMU_THUNDERX = 5,
};

/* Register values known for a unit (bit set in `have` when known). */
enum ap_fw_reg {
	AP_FW_REG_CAP = 0,  /* VT-d Capability Register (offset 0x08) */
	AP_FW_REG_ECAP,     /* VT-d Extended Capability Register (0x10) */
	AP_FW_REG_IDR0,     /* SMMUv3 SMMU_IDR0 */
	AP_FW_REG_IDR1,     /* SMMUv3 SMMU_IDR1 */
	AP_FW_REG_IDR5,     /* SMMUv3 SMMU_IDR5 */
	AP_FW_REG_ID0,      /* SMMUv2 SMMU_IDR0 (sGR0 0x20) */
	AP_FW_REG_ID1,      /* SMMUv2 SMMU_IDR1 */
	AP_FW_REG_ID2,      /* SMMUv2 SMMU_IDR2 */
	AP_FW_REG_SCR0,     /* SMMUv2 SMMU_sCR0 (CLIENTPD, USFCFG) */
	AP_FW_NREGS
};

/*
 * Capabilities, decoded from the registers as the architecture specs define
 * them and as Linux's drivers use them (doc/firmware.md has each field).
 * ias/oas are those of the domains Linux would allocate on the unit:
 * VT-d: MGAW (capped to what SAGAW can walk) and the DMAR host address
 * width; SMMUv3 stage 1: 48 (52 with IDR5.VAX and a 64K granule) into
 * max(OAS, 40 for AArch32 table formats), stage 2: that in, OAS out;
 * SMMUv2: UBS->IAS (stage 1) or IAS->OAS (stage 2) through the size table.
 */
struct ap_fw_caps {
	bool from_regs;         /* false: the defaults below were assumed */
	unsigned ias, oas;
	uint64_t pgsizes;       /* every page size of every granule */
	unsigned stage;         /* the stage Linux picks: 1 if offered, else 2 */
	unsigned stages;        /* bit 0: stage 1 offered, bit 1: stage 2 */
	bool coherent;          /* table walks snoop (ECAP.C, IDR0.COHACC,
				   ID0.CTTW), or the firmware's override */
	unsigned sagaw;         /* VT-d CAP.SAGAW, bit n = AGAW n */
	unsigned mgaw;          /* VT-d CAP.MGAW (bits) */
	unsigned domains;       /* VT-d CAP.ND: domain IDs */
	bool pass_through;      /* VT-d ECAP.PT: hardware pass-through */
	bool ats;               /* VT-d ECAP.DT / SMMUv3 IDR0.ATS */
	unsigned sid_bits;      /* SMMUv3 IDR1.SIDSIZE, SMMUv2 ID0.NUMSIDB */
	unsigned context_banks; /* SMMUv2 ID1.NUMCB */
	unsigned s2_context_banks; /* SMMUv2 ID1.NUMS2CB */
	unsigned smrs;          /* SMMUv2 ID0.NUMSMRG (stream matching) */
	bool stream_match;      /* SMMUv2 ID0.SMS: SMR id/mask matching,
				   else stream indexing */
	bool unmatched_bypass;  /* SMMUv2 sCR0.USFCFG=0 (or Linux's
				   disable_bypass=0): unmatched streams pass */
	bool clientpd;          /* SMMUv2 sCR0.CLIENTPD=1: all streams pass */
};

/* Unit flags. */
#define AP_FW_UNIT_PCI_ALL   (1u << 0) /* DRHD INCLUDE_PCI_ALL */
#define AP_FW_UNIT_COHACC    (1u << 1) /* firmware says walks are coherent */
#define AP_FW_UNIT_ATS       (1u << 2) /* DMAR ATSR ALL_PORTS on its segment */
#define AP_FW_UNIT_PROXIMITY (1u << 3) /* proximity domain known */

struct ap_fw_unit {
	char name[32];            /* dmar0, smmu3_0, arm_smmu_0, dt node */
	enum ap_fw_unit_kind kind;
	enum ap_fw_origin origin;
	uint64_t base;            /* register base */
	uint64_t span;            /* register span, 0 if not given */
	uint32_t segment;         /* PCI segment (DRHD) */
	uint32_t where;           /* byte offset (ACPI) or node offset (dtb) */
	unsigned flags;           /* AP_FW_UNIT_* */
	unsigned model;           /* enum ap_fw_smmu_model; SMMUv3: IORT model */
	uint32_t proximity;       /* RHSA / IORT proximity domain */
	uint32_t smr_mask;        /* devicetree stream-match-mask */
	unsigned haw;             /* VT-d: DMAR host address width */
	unsigned have;            /* bit (1 << enum ap_fw_reg) per known value */
	uint64_t regs[AP_FW_NREGS];
	struct ap_fw_caps caps;
};

enum ap_fw_dev_type {
	AP_FW_DEV_PCI = 1,      /* PCI endpoint */
	AP_FW_DEV_PCI_BRIDGE,   /* PCI bridge: its whole sub-hierarchy */
	AP_FW_DEV_IOAPIC,       /* interrupt source, not a DMA master */
	AP_FW_DEV_HPET,         /* interrupt source, not a DMA master */
	AP_FW_DEV_ACPI,         /* ACPI namespace device (DMAR ANDD) */
	AP_FW_DEV_NAMED,        /* IORT named component */
	AP_FW_DEV_ROOT_COMPLEX, /* IORT root complex / dt PCI host: all RIDs */
	AP_FW_DEV_PLATFORM,     /* devicetree node with iommus */
};

/* Device flags. */
#define AP_FW_DEV_DMA      (1u << 0) /* a DMA master */
#define AP_FW_DEV_COHERENT (1u << 1) /* IORT CCA / dt dma-coherent */
#define AP_FW_DEV_ATS      (1u << 2) /* ATS (IORT RC, DMAR SATC/ATSR) */
#define AP_FW_DEV_ATC_REQ  (1u << 3) /* DMAR SATC ATC_REQUIRED */
#define AP_FW_DEV_SIDP     (1u << 4) /* named in a DMAR SIDP */
#define AP_FW_DEV_RMRR     (1u << 5) /* named by a DMAR RMRR */
#define AP_FW_DEV_HOST     (1u << 6) /* a PCI function a live host's sysfs
					lists (sys/bus/pci/devices) */
#define AP_FW_DEV_BEHIND   (1u << 7) /* a DMAR scope path through bridges:
					its bus (the last bridge's secondary
					bus) needs PCI config space, so `rid`
					is not its requester ID */

struct ap_fw_dev {
	char name[64];       /* PCI: "SSSS:BB:DD.F"; ACPI path; dt path */
	enum ap_fw_dev_type type;
	enum ap_fw_origin origin;
	int unit;            /* index into units, -1: no IOMMU */
	uint32_t segment;
	uint32_t rid;        /* the requester ID the unit sees (bus << 8 |
			        devfn; a DMAR scope's start bus and path) */
	unsigned addr_bits;  /* memory address size limit, 0: not given */
	int group;           /* IOMMU group (sysfs), -1: none known */
	unsigned flags;      /* AP_FW_DEV_* */
	uint32_t where;
	uint32_t enum_id;    /* DMAR IOAPIC/HPET/ACPI namespace scope: its
			        Enumeration ID (IOAPIC ID, HPET number, ANDD
			        device number) */
};

/*
 * A range of IDs a device issues and the stream IDs its unit sees:
 * input IDs [in_base, in_base + count) become [out_base, out_base + count)
 * (a single mapping: every input ID becomes out_base).  With in_masked, an
 * input ID is ANDed with in_mask before that test (devicetree
 * iommu-map-mask).  smr_mask: the stream-match mask of a devicetree
 * `iommus` entry with two cells (0: exact).
 */
struct ap_fw_stream {
	int dev;
	int unit;
	uint32_t in_base;
	uint32_t out_base;
	uint64_t count;      /* number of IDs, >= 1 */
	uint32_t smr_mask;
	uint32_t in_mask;
	bool in_masked;
	bool single;
};

/*
 * A reserved region: for one device (dev >= 0), or for the stream IDs
 * [sid_base, sid_base + sid_count) of a unit (IORT RMR).
 */
struct ap_fw_resv {
	int dev;             /* -1: by stream ID */
	int unit;
	uint32_t sid_base, sid_count;
	uint64_t start, size;
	enum ap_resv_type type;
	enum ap_fw_origin origin;
	uint32_t where;
};

struct ap_fw_group {
	int id;
	char type[16];       /* sysfs: "DMA", "DMA-FQ", "identity", "blocked",
			        "unmanaged" */
};

enum ap_fw_note_level { AP_FW_NOTE = 0, AP_FW_WARNING = 1 };

struct ap_fw_note {
	enum ap_fw_note_level level;
	char text[224];      /* "DMAR +0x48: ..." */
};

/* Per table: header facts and how many subtables of each type it held. */
struct ap_fw_table {
	char signature[5];   /* "DMAR", "IORT", "DTB" */
	uint8_t revision;
	char oem_id[7];
	uint32_t length;
	unsigned haw;        /* DMAR: host address width (HAW + 1) */
	unsigned flags;      /* DMAR flags byte */
	unsigned count[8];   /* DMAR: by remapping structure type 0..6;
			        IORT: by node type 0..6 */
	unsigned unknown;    /* subtables of unknown type, skipped */
	unsigned nodes;      /* IORT node count; DMAR subtables */
};

/* DMAR header flags. */
#define AP_FW_DMAR_INTR_REMAP  (1u << 0)
#define AP_FW_DMAR_X2APIC_OPT_OUT (1u << 1)
#define AP_FW_DMAR_DMA_CTRL_PLATFORM_OPT_IN (1u << 2)

struct ap_fw_desc {
	const struct ap_fw_unit *units;     size_t n_units;
	const struct ap_fw_dev *devs;       size_t n_devs;
	const struct ap_fw_stream *streams; size_t n_streams;
	const struct ap_fw_resv *resv;      size_t n_resv;
	const struct ap_fw_group *groups;   size_t n_groups;
	const struct ap_fw_note *notes;     size_t n_notes;
	const struct ap_fw_table *tables;   size_t n_tables;
};

/* A new, empty description allocated from ctx.  -EINVAL (NULL), -ENOMEM. */
AP_API int ap_fw_new(struct ap_ctx *ctx, struct ap_fw **out);
/* Free it (NULL: no-op). */
AP_API void ap_fw_free(struct ap_fw *fw);

/* Import an ACPI DMAR table (the whole table, header included). */
AP_API int ap_fw_add_dmar(struct ap_fw *fw, const void *buf, size_t len);
/* Import an ACPI IORT table. */
AP_API int ap_fw_add_iort(struct ap_fw *fw, const void *buf, size_t len);
/* Import a flattened devicetree blob. */
AP_API int ap_fw_add_dtb(struct ap_fw *fw, const void *buf, size_t len);
/*
 * Register values: text of lines `BASE REG=VALUE [REG=VALUE...]`, `#`
 * comments; REG one of CAP ECAP IDR0 IDR1 IDR5 ID0 ID1 ID2 SCR0 (any case).
 * They apply to the unit at BASE, now or imported later.  `file` names the
 * input in errors (FILE:LINE).
 */
AP_API int ap_fw_add_regs(struct ap_fw *fw, const char *text, size_t len, const char *file);
/*
 * A host's sysfs under `root` ("/" for this host): firmware tables in
 * sys/firmware/acpi/tables/{DMAR,IORT} and sys/firmware/fdt, VT-d
 * registers in sys/class/iommu/dmar*, groups in sys/kernel/iommu_groups,
 * PCI devices in sys/bus/pci/devices, and Arm SMMU's disable_bypass.
 */
AP_API int ap_fw_add_sysfs(struct ap_fw *fw, const char *root);
/* Read a whole file for the importers (at most 64 MiB) into memory from
 * the description's context; free with ap_mem_free.  -ENOENT, -EIO,
 * -EFBIG, -ENOMEM, with ap_fw_error() set. */
AP_API int ap_fw_read_file(struct ap_fw *fw, const char *path, void **buf, size_t *len);

/*
 * Build the description's machine in `ctx`, which must hold no instance or
 * device yet: an instance per unit whose kind this build has (capabilities
 * through ap_iommu_config_set(), so assumed ones are the stated defaults),
 * a device per stream range of each DMA master (named after it, ".1",
 * ".2"... for further ranges; its first stream ID, or a VT-d device's
 * requester ID), the masters' streams on one unit sharing a group (sysfs
 * group numbers kept), reserved regions on the devices they name (IORT
 * RMR: on the devices whose stream IDs they list).  With `scenario`, the
 * same machine is written there as scenario lines, comments saying where
 * each unit came from and which ID ranges a device stands for.  Errors:
 * -EINVAL (ctx not empty, or the core refused a unit or device: the
 * reason is in ap_fw_error()), -ENOMEM; the context then holds part of
 * the machine and should be freed.
 */
AP_API int ap_fw_apply(struct ap_fw *fw, struct ap_ctx *ctx, FILE *scenario);

/* One way DMA escapes translation, as the description shows it. */
struct ap_fw_bypass {
	char who[72];        /* the device, or the unit */
	const char *why;     /* a sentence, static */
	uint64_t start, end; /* the addresses it reaches, inclusive */
};

/*
 * The index-th bypass path (0-based), -ENOENT past the last: devices no
 * IOMMU translates (no unit, or a host whose sysfs shows no IOMMU group for
 * a DMA-capable PCI device), identity (passthrough) groups, direct regions
 * (RMRR, IORT RMR, devicetree 1:1 iommu-addresses, sysfs direct regions),
 * units whose hardware can pass DMA through (VT-d ECAP.PT) or that let
 * unmatched streams pass (SMMUv2 sCR0.USFCFG=0 or CLIENTPD=1, Linux's
 * arm-smmu disable_bypass=0).
 */
AP_API int ap_fw_bypass(const struct ap_fw *fw, size_t index, struct ap_fw_bypass *out);
/* True when the description has no IOMMU unit at all. */
AP_API bool ap_fw_no_iommu(const struct ap_fw *fw);

/* The description as it stands. */
AP_API const struct ap_fw_desc *ap_fw_desc(const struct ap_fw *fw);
/* The last error's explanation ("" if none). */
AP_API const char *ap_fw_error(const struct ap_fw *fw);

/* Names for printing: "intel-vtd", "arm-smmu-v3", "arm-smmu"; "mmu-500",...;
 * "pci", "pci-bridge", ...; "dmar", "iort", ... ("?" if unknown). */
AP_API const char *ap_fw_unit_kind_name(enum ap_fw_unit_kind kind);
AP_API const char *ap_fw_smmu_model_name(unsigned model);
AP_API const char *ap_fw_dev_type_name(enum ap_fw_dev_type type);
AP_API const char *ap_fw_origin_name(enum ap_fw_origin origin);

#ifdef __cplusplus
}
#endif

#endif /* APERTURE_FIRMWARE_H */
