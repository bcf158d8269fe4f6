/* SPDX-License-Identifier: MIT */
/*
 * A peer to compare against: QEMU driven through its qtest protocol.
 *
 * qtest_start() runs qemu-system-x86_64 (or $AP_QEMU) on a q35 machine whose
 * CPUs never run (-S), with no default devices, and talks QEMU's qtest
 * protocol over the child's stdin and stdout: port I/O, guest-physical
 * reads and writes, nothing else.  That is enough to play a guest driver:
 * enumerate PCI through 0xcf8/0xcfc, program BARs, and put virtqueues in
 * guest RAM.  QEMU builds with the qtest accelerator get `-accel qtest`;
 * Debian's qemu-system-x86 has none, and then the machine gets `-accel tcg`
 * and stays stopped, which serves as well (device MMIO and memory accesses
 * are handled by QEMU's main loop, not by a vCPU).
 *
 * Every call after QEMU died, or after a reply that was not "OK", does
 * nothing and returns 0; qtest_failed() says so and qtest_error() why.
 */
#ifndef AP_TEST_QTEST_H
#define AP_TEST_QTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qtest;

/*
 * Start QEMU with `args` (space-separated extra arguments: the devices,
 * say) added.  NULL if QEMU could not be run; *why (if not NULL) then
 * points at static text saying why ("qemu-system-x86_64 not found" when it
 * is not installed, which callers may treat as "skip").
 */
struct qtest *qtest_start(const char *args, const char **why);

/* As qtest_start(); running: the machine runs (its clocks advance, so
 * device timers fire) on a firmware that only halts the CPU, instead of
 * staying stopped (-S). */
struct qtest *qtest_start_ex(const char *args, bool running, const char **why);

/* Stop QEMU and free everything.  NULL is a no-op. */
void qtest_quit(struct qtest *q);

/* Whether QEMU binary is installed at all (callers skip without it). */
bool qtest_available(void);

bool qtest_failed(const struct qtest *q);
const char *qtest_error(const struct qtest *q);

/* The full command line QEMU was started with, for messages. */
const char *qtest_cmdline(const struct qtest *q);

/* Port I/O. */
void qtest_outb(struct qtest *q, uint16_t port, uint8_t v);
void qtest_outw(struct qtest *q, uint16_t port, uint16_t v);
void qtest_outl(struct qtest *q, uint16_t port, uint32_t v);
uint8_t qtest_inb(struct qtest *q, uint16_t port);
uint16_t qtest_inw(struct qtest *q, uint16_t port);
uint32_t qtest_inl(struct qtest *q, uint16_t port);

/* Guest-physical accesses of 1, 2, 4, 8 bytes (MMIO or RAM). */
void qtest_writeb(struct qtest *q, uint64_t addr, uint8_t v);
void qtest_writew(struct qtest *q, uint64_t addr, uint16_t v);
void qtest_writel(struct qtest *q, uint64_t addr, uint32_t v);
void qtest_writeq(struct qtest *q, uint64_t addr, uint64_t v);
uint8_t qtest_readb(struct qtest *q, uint64_t addr);
uint16_t qtest_readw(struct qtest *q, uint64_t addr);
uint32_t qtest_readl(struct qtest *q, uint64_t addr);
uint64_t qtest_readq(struct qtest *q, uint64_t addr);

/* Guest-physical byte ranges (qtest's read/write/memset). */
void qtest_memread(struct qtest *q, uint64_t addr, void *buf, size_t len);
void qtest_memwrite(struct qtest *q, uint64_t addr, const void *buf, size_t len);
void qtest_memset(struct qtest *q, uint64_t addr, uint8_t v, size_t len);

/* ---------------------------------------------------------------- PCI */

/* Configuration space of bus 0 through the 0xcf8/0xcfc mechanism. */
uint32_t qtest_pci_read(struct qtest *q, unsigned devfn, unsigned off, unsigned size);
void qtest_pci_write(struct qtest *q, unsigned devfn, unsigned off, unsigned size,
		     uint32_t v);

/* Give every memory BAR of bus 0's devfn an address (q35's PCI window),
 * in addr[] (0 for none), and enable memory space and bus mastering: what
 * firmware would have done. */
void qtest_pci_setup(struct qtest *q, unsigned devfn, uint64_t addr[6]);

/* The devfn of the first function on bus 0 with vendor:device, or -1. */
int qtest_pci_find(struct qtest *q, uint16_t vendor, uint16_t device);

#endif /* AP_TEST_QTEST_H */
