/* descriptor_set.h: the FileDescriptorSet of the served protos and all they import,
 * generated at build time (protos/BUILD), for server reflection. */
#ifndef SMIMED_PROTOS_DESCRIPTOR_SET_H
#define SMIMED_PROTOS_DESCRIPTOR_SET_H

#include <stddef.h>

extern const unsigned char smime_descriptor_set[];
extern const size_t smime_descriptor_set_len;

#endif
