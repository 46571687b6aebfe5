/* malloc_tuning.h: glibc malloc settings for processes that handle whole messages (the
 * front and the engines).
 *
 * Why: a 25 MiB message passes through several buffers per call (request, MIME, CMS,
 * response), and on this kind of virtual machine a page fault costs 15 to 28 µs
 * (measured: 100 MiB touched in 4 KiB pages, 0.4 to 0.7 s). glibc's defaults fault
 * every large buffer in anew; the first tuning (mmap threshold 32 MiB, trim threshold
 * 256 MiB, top pad 64 MiB) avoided that by keeping freed memory, at the price of each
 * process keeping the heap of its largest call: two engines and the front held about
 * 190 MiB each after 25 MiB messages.
 *
 * Now: transparent huge pages for malloc's memory (glibc.malloc.hugetlb=1, set by
 * re-executing, below: glibc reads tunables only at start) make a fault cover 2 MiB,
 * so faulting a buffer in costs about 60 times less (0.3 µs per 4 KiB); large buffers
 * (4 MiB and more) get their own mapping, returned when freed; the heap keeps at most
 * 8 MiB free at its top and grows 1 MiB at a time; and after a large message
 * malloc_release_after gives the rest back. A process then holds a large message's
 * memory only while it handles it. A call of a few KiB never comes near these
 * thresholds. */
#ifndef SMIMED_COMMON_MALLOC_TUNING_H
#define SMIMED_COMMON_MALLOC_TUNING_H

#include <stddef.h>

/* malloc_exec_with_huge_pages re-executes the program (/proc/self/exe, |argv|) with
 * glibc.malloc.hugetlb=1 added to GLIBC_TUNABLES, unless that tunable is set already
 * (then it returns). Call it first in main: it returns only when it did nothing or the
 * exec failed (logged). */
void malloc_exec_with_huge_pages(char **argv);

/* malloc_tune_for_messages sets M_MMAP_THRESHOLD to 4 MiB, M_TRIM_THRESHOLD to 8 MiB and
 * M_TOP_PAD to 1 MiB. Call it first in main, before any thread starts. */
void malloc_tune_for_messages(void);

/* MALLOC_LARGE_CALL is the size of a message (a call's request and response bytes
 * together) from which malloc_release_after returns freed memory: 8 MiB, far above the
 * calls the settings above are for, and below the messages whose heap is worth giving
 * back. */
#define MALLOC_LARGE_CALL ((size_t)8 * 1024 * 1024)

/* malloc_release_after is called when the buffers of |bytes| of message have just been
 * freed (a call is done, or the front has decoded a large request): from
 * MALLOC_LARGE_CALL on, it gives every free page of the heap back to the kernel
 * (malloc_trim(0): the top of a thread's arena is not trimmed otherwise, and freed
 * blocks below the top never are) and returns 1; otherwise it does nothing and returns
 * 0. With huge pages the next large message faults its memory in again cheaply
 * (docs/PERFORMANCE.md, "Scale"). */
int malloc_release_after(size_t bytes);

#endif /* SMIMED_COMMON_MALLOC_TUNING_H */
