/* internal.h: helpers shared by pbe.c and pkcs12.c; not part of the package's API. */
#ifndef SMIMED_PKCS12_INTERNAL_H
#define SMIMED_PKCS12_INTERNAL_H

#include <stddef.h>

#include <openssl/bytestring.h>

#include "service/common/status.h"

/* p12_fail fills |err| for the P12_ERR_* |code| (RESOURCE_EXHAUSTED for
 * P12_ERR_NO_MEMORY, INVALID_ARGUMENT otherwise) with a printf-style message and
 * returns |code|, so that a function can `return p12_fail(err, ...);`. */
int p12_fail(STATUS *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* p12_oid_name writes a name for the OBJECT IDENTIFIER contents |oid| into |buf|:
 * BoringSSL's long name when it knows the OID, else its dotted text. For messages. */
void p12_oid_name(const CBS *oid, char *buf, size_t buf_len);

#endif /* SMIMED_PKCS12_INTERNAL_H */
