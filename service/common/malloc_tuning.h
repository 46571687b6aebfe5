/* malloc_tuning.h: glibc malloc settings for processes that handle whole messages (the
 * front and the engines).
 *
 * Why: by default glibc serves every block above a threshold (at most 32 MiB) with its
 * own mmap and unmaps it on free, and gives heap memory back to the kernel as soon as
 * 128 KiB are free at its top. A 25 MiB message passes through several such buffers per
 * call (request, MIME, CMS, response), so every call touched tens of thousands of fresh
 * pages; on a virtual machine each page fault costs a world switch. Measured on the
 * development machine (2 cores, KVM): a 25 MiB sign+encrypt took ~4 s, of which most
 * was page faults and the copies they slowed; with freed memory kept for the next call
 * it takes a fraction of that (docs/PERFORMANCE.md).
 *
 * The price: a process keeps the memory of its largest call (up to the trim threshold
 * beyond what it uses) instead of returning it at once. Peak use is unchanged. */
#ifndef SMIMED_COMMON_MALLOC_TUNING_H
#define SMIMED_COMMON_MALLOC_TUNING_H

/* malloc_tune_for_messages sets M_MMAP_THRESHOLD to glibc's maximum (32 MiB), keeps up
 * to 256 MiB of freed memory (M_TRIM_THRESHOLD) and grows the heap 64 MiB at a time
 * (M_TOP_PAD). Call it first in main, before any thread starts. */
void malloc_tune_for_messages(void);

#endif /* SMIMED_COMMON_MALLOC_TUNING_H */
