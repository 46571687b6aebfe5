/* sandbox.h: what smime-engine and smime-keystore do to themselves once their start-up
 * work is done and before they read their first request (DESIGN.md section 2): a
 * seccomp allowlist of system calls, resource limits, and a per-request CPU budget.
 *
 * No libseccomp: the filter is a short classic-BPF program built here from a list of
 * system call numbers (<linux/seccomp.h>, <linux/filter.h>). It is installed with
 * PR_SET_NO_NEW_PRIVS, so it needs no privilege, is inherited by anything the process
 * might exec (nothing: execve is not allowed) and can never be removed. A call outside
 * the list kills the whole process (SECCOMP_RET_KILL_PROCESS, SIGSYS): the pool sees
 * its worker die, answers the call UNAVAILABLE and starts a new one, so a violation is
 * always visible (the front logs "killed by signal 31 (Bad system call)"; the kernel
 * logs the call number in its audit log), never a silent failure. */
#ifndef SMIMED_SANDBOX_SANDBOX_H
#define SMIMED_SANDBOX_SANDBOX_H

#include <stddef.h>
#include <sys/resource.h>

#include "service/common/status.h"

/* SANDBOX_NO_EXEC_MAPPING marks, in an allowlist, a call (mmap, mprotect) that is
 * allowed only when its third argument (prot) lacks PROT_EXEC: the workers never need
 * new executable memory after start, and an attacker who could write shellcode could
 * not make it runnable. OR it into the system call number. */
#define SANDBOX_NO_EXEC_MAPPING 0x20000000

/* sandbox_seccomp installs the filter: the |n| system call numbers in |allowed| run,
 * anything else kills the process; so do calls through another ABI (x32, or i386 via
 * int 0x80). Returns 0 with |err| filled if the kernel refused (the caller should then
 * refuse to serve: a worker that is meant to be confined must not run unconfined). */
int sandbox_seccomp(const int *allowed, size_t n, STATUS *err);

/* sandbox_limit sets resource |resource| to |value| (soft and hard). Lowering the hard
 * limit is irreversible for an unprivileged process. */
int sandbox_limit(int resource, rlim_t value, STATUS *err);

/* sandbox_cpu_budget gives the next request |seconds| of CPU time (user + system): it
 * moves the soft RLIMIT_CPU to the CPU time used so far plus |seconds|. When a request
 * exceeds it the kernel sends SIGXCPU, whose default action ends the process (no core:
 * RLIMIT_CORE is 0), and the pool reports "killed by signal 24 (CPU time limit
 * exceeded)". Call it before each request; time spent idle, waiting for a request,
 * costs no CPU. */
int sandbox_cpu_budget(unsigned seconds, STATUS *err);

#endif /* SMIMED_SANDBOX_SANDBOX_H */
