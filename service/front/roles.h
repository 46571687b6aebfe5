/* roles.h: who may call what.
 *
 * Two roles: admin (certificate and key management, settings; also everything a service
 * may do) and service (protect and open mail, security options, read logs and
 * certificates, health, reflection). The Unix socket is admin. A TCP caller's role comes
 * from its client certificate, which gRPC's TLS stack has already verified against
 * --client-ca and parsed: this module reads only what gRPC's auth context reports (SAN
 * URIs, the subject as text, the common name) and never parses ASN.1 itself.
 *
 * Which part of the certificate gives the role is a ROLE_MAP: a source (SAN URI, subject
 * OU or subject CN) and one fnmatch(3) pattern per role. */
#ifndef SMIMED_FRONT_ROLES_H
#define SMIMED_FRONT_ROLES_H

#include <grpc/grpc.h>
#include <stddef.h>

#include "service/common/status.h"

/* ROLE values are ordered: a higher role may do everything a lower one may. */
typedef enum role_t {
  ROLE_NONE = 0,
  ROLE_SERVICE = 1,
  ROLE_ADMIN = 2,
} ROLE;

/* ROLE_SOURCE is the part of a client certificate that names its role. */
typedef enum role_source_t {
  ROLE_FROM_URI = 0, /* a subjectAltName URI, e.g. smimed:role:admin (default) */
  ROLE_FROM_OU,      /* an organizationalUnitName of the subject */
  ROLE_FROM_CN,      /* the subject's commonName */
} ROLE_SOURCE;

#define ROLE_DEFAULT_ADMIN_MATCH "smimed:role:admin"
#define ROLE_DEFAULT_SERVICE_MATCH "smimed:role:service"

/* ROLE_MAP says how a client certificate maps to a role. The patterns are kept by
 * reference (they come from argv). */
typedef struct role_map_st {
  ROLE_SOURCE source;
  const char *admin_match;
  const char *service_match;
} ROLE_MAP;

/* role_map_init fills |*out| from the flags --role-from (|source|: "uri", "ou" or "cn";
 * NULL for uri), --admin-match and --service-match (NULL for the defaults of the
 * source: smimed:role:admin / smimed:role:service for uri, smimed-admin /
 * smimed-service for ou and cn). Returns 0 with INVALID_ARGUMENT for an unknown source
 * or an empty pattern. */
int role_map_init(ROLE_MAP *out, const char *source, const char *admin_match,
                  const char *service_match, STATUS *err);

/* role_source_name is "uri", "ou" or "cn". */
const char *role_source_name(ROLE_SOURCE source);

/* role_name is "admin", "service" or "no". */
const char *role_name(ROLE role);

/* role_required is the role that |method| ("/smime.v1.LogService/ListLogs") needs,
 * from the one table in roles.c. A method the table does not list needs admin, so that
 * an RPC added to the API is closed to services until someone decides otherwise. */
ROLE role_required(const char *method);

/* ROLE_PEER is what TLS verified about a client: its certificate's SAN URIs, subject
 * (RFC 2253 text, as gRPC prints it) and common name. Any may be absent. */
typedef struct role_peer_st {
  const char *const *uris;
  size_t n_uris;
  const char *subject;
  const char *common_name;
} ROLE_PEER;

/* role_of_peer is the role |map| gives |peer|: admin if any value of the source matches
 * the admin pattern, else service if any matches the service pattern, else ROLE_NONE. */
ROLE role_of_peer(const ROLE_MAP *map, const ROLE_PEER *peer);

/* CALLER is one call's caller. */
typedef struct caller_st {
  ROLE role;
  int tls;           /* 1: the role came from a client certificate */
  char identity[256]; /* TLS: the certificate's subject ("CN=helpdesk-app,O=Example") */
  char name[400];     /* for the audit log: "service: CN=helpdesk-app (tls 127.0.0.1:54321)" */
} CALLER;

/* caller_from_call identifies the caller of |call|: the Unix socket and the --insecure
 * loopback listener are admin; a TLS peer gets the role |map| gives its verified
 * certificate; anything else gets ROLE_NONE (closed by default). Always fills |*out|. */
void caller_from_call(const ROLE_MAP *map, grpc_call *call, CALLER *out);

/* role_authorize returns 1 if |caller| may call |method|, or 0 with PERMISSION_DENIED
 * in |err|, saying which role the method needs, which the caller has and, for a
 * certificate without a role, how to give it one under |map|. */
int role_authorize(const ROLE_MAP *map, const CALLER *caller, const char *method,
                   STATUS *err);

#endif /* SMIMED_FRONT_ROLES_H */
