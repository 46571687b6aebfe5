/* log.h: the daemon's own log, one line per event on stderr:
 *   2026-11-29T06:40:43Z smimed[123] info: listening on unix:/var/lib/smimed/smimed.sock
 * or, with SMIMED_LOG_FORMAT=json in the environment (smimed --log-format json), one
 * JSON object per line: {"time":...,"program":...,"pid":...,"level":...,"message":...}.
 * Never pass key material or message content to these functions. */
#ifndef SMIMED_COMMON_LOG_H
#define SMIMED_COMMON_LOG_H

/* log_set_program sets the name printed before the pid (default "smimed"). */
void log_set_program(const char *name);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SMIMED_COMMON_LOG_H */
