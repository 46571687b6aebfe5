/* roles.c: see roles.h. */
#include "service/front/roles.h"

#include <fnmatch.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdio.h>
#include <string.h>

/* kRoleTable is THE role matrix: every RPC and the least role that may call it (admin
 * may call everything). README.md quotes it; tests/tls/roles_e2e_test.py checks it over
 * every served RPC. Methods not listed need admin (see role_required). */
static const struct {
  const char *method;
  ROLE role;
} kRoleTable[] = {
    /* Certificates: services read them (to show a signer, to pick a recipient); only
     * admins change what is trusted or which keys exist. */
    {"/smime.v1.CertificateService/ImportCertificates", ROLE_ADMIN},
    {"/smime.v1.CertificateService/ImportPrivateKey", ROLE_ADMIN},
    {"/smime.v1.CertificateService/ListCertificates", ROLE_SERVICE},
    {"/smime.v1.CertificateService/GetCertificate", ROLE_SERVICE},
    {"/smime.v1.CertificateService/ExportCertificate", ROLE_SERVICE},
    {"/smime.v1.CertificateService/DeleteCertificate", ROLE_ADMIN},
    {"/smime.v1.CertificateService/DeletePrivateKey", ROLE_ADMIN},
    /* Mail: what the helpdesk's services are for. */
    {"/smime.v1.MessageService/GetSecurityOptions", ROLE_SERVICE},
    {"/smime.v1.MessageService/SignEncrypt", ROLE_SERVICE},
    {"/smime.v1.MessageService/DecryptVerify", ROLE_SERVICE},
    /* Logs: read-only, and the helpdesk shows them to agents. */
    {"/smime.v1.LogService/ListLogs", ROLE_SERVICE},
    {"/smime.v1.LogService/ListRetryable", ROLE_SERVICE},
    /* Settings: services read the group defaults; only admins change them. */
    {"/smime.v1.SettingsService/GetSettings", ROLE_SERVICE},
    {"/smime.v1.SettingsService/UpdateSettings", ROLE_ADMIN},
    /* Health and reflection: for load balancers and grpcurl. */
    {"/grpc.health.v1.Health/Check", ROLE_SERVICE},
    {"/grpc.health.v1.Health/Watch", ROLE_SERVICE},
    {"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", ROLE_SERVICE},
    {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", ROLE_SERVICE},
};

const char *role_name(ROLE role) {
  switch (role) {
    case ROLE_ADMIN:
      return "admin";
    case ROLE_SERVICE:
      return "service";
    case ROLE_NONE:
      break;
  }
  return "no";
}

const char *role_source_name(ROLE_SOURCE source) {
  switch (source) {
    case ROLE_FROM_OU:
      return "ou";
    case ROLE_FROM_CN:
      return "cn";
    case ROLE_FROM_URI:
      break;
  }
  return "uri";
}

int role_map_init(ROLE_MAP *out, const char *source, const char *admin_match,
                  const char *service_match, STATUS *err) {
  memset(out, 0, sizeof(*out));
  ROLE_SOURCE src = ROLE_FROM_URI;
  if (source == NULL || strcmp(source, "uri") == 0) {
    src = ROLE_FROM_URI;
  } else if (strcmp(source, "ou") == 0) {
    src = ROLE_FROM_OU;
  } else if (strcmp(source, "cn") == 0) {
    src = ROLE_FROM_CN;
  } else {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "--role-from must be uri, ou or cn, not \"%s\"", source);
  }
  if ((admin_match != NULL && admin_match[0] == '\0') ||
      (service_match != NULL && service_match[0] == '\0')) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "--admin-match and --service-match cannot be empty");
  }
  if (admin_match == NULL) {
    admin_match = src == ROLE_FROM_URI ? ROLE_DEFAULT_ADMIN_MATCH : "smimed-admin";
  }
  if (service_match == NULL) {
    service_match = src == ROLE_FROM_URI ? ROLE_DEFAULT_SERVICE_MATCH : "smimed-service";
  }
  out->source = src;
  out->admin_match = admin_match;
  out->service_match = service_match;
  return 1;
}

ROLE role_required(const char *method) {
  for (size_t i = 0; i < sizeof(kRoleTable) / sizeof(kRoleTable[0]); i++) {
    if (strcmp(kRoleTable[i].method, method) == 0) {
      return kRoleTable[i].role;
    }
  }
  return ROLE_ADMIN;
}

/* role_of_value is the role one certificate value earns under |map|. */
static ROLE role_of_value(const ROLE_MAP *map, const char *value) {
  if (fnmatch(map->admin_match, value, 0) == 0) {
    return ROLE_ADMIN;
  }
  if (fnmatch(map->service_match, value, 0) == 0) {
    return ROLE_SERVICE;
  }
  return ROLE_NONE;
}

/* role_of_subject_ous matches every OU of |subject|, RFC 2253 text as gRPC reports it
 * ("CN=a,OU=smimed-admin,O=Example"; "," and "+" separate attributes, "\" escapes). This
 * is text that OpenSSL printed from the verified certificate, not ASN.1. */
static ROLE role_of_subject_ous(const ROLE_MAP *map, const char *subject) {
  ROLE best = ROLE_NONE;
  char value[256];
  const char *p = subject;
  while (*p != '\0') {
    while (*p == ' ') {
      p++;
    }
    int is_ou = (p[0] == 'O' || p[0] == 'o') && (p[1] == 'U' || p[1] == 'u') && p[2] == '=';
    size_t n = 0;
    int truncated = 0;
    /* Copy (unescaped) up to the next unescaped separator. */
    while (*p != '\0' && *p != ',' && *p != '+') {
      if (*p == '\\' && p[1] != '\0') {
        p++;
      }
      if (n + 1 < sizeof(value)) {
        value[n++] = *p;
      } else {
        truncated = 1;
      }
      p++;
    }
    value[n] = '\0';
    if (is_ou && !truncated) {
      ROLE r = role_of_value(map, value + 3);
      if (r > best) {
        best = r;
      }
    }
    if (*p != '\0') {
      p++;
    }
  }
  return best;
}

ROLE role_of_peer(const ROLE_MAP *map, const ROLE_PEER *peer) {
  ROLE best = ROLE_NONE;
  switch (map->source) {
    case ROLE_FROM_URI:
      for (size_t i = 0; i < peer->n_uris; i++) {
        ROLE r = role_of_value(map, peer->uris[i]);
        if (r > best) {
          best = r;
        }
      }
      break;
    case ROLE_FROM_OU:
      if (peer->subject != NULL) {
        best = role_of_subject_ous(map, peer->subject);
      }
      break;
    case ROLE_FROM_CN:
      if (peer->common_name != NULL) {
        best = role_of_value(map, peer->common_name);
      }
      break;
  }
  return best;
}

/* INSECURE_TRANSPORT_SECURITY_TYPE is what gRPC 1.51 reports for plaintext transports
 * (grpc_insecure_server_credentials_create); the headers define no name for it. */
#define INSECURE_TRANSPORT_SECURITY_TYPE "insecure"

/* PEER_MAX_URIS bounds the SAN URIs considered; a client certificate has a handful. */
#define PEER_MAX_URIS 16

/* auth_first_value copies the first value of property |name| of |ctx| into |out|.
 * Returns 1 if there was one. */
static int auth_first_value(const grpc_auth_context *ctx, const char *name, char *out,
                            size_t out_len) {
  out[0] = '\0';
  grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(ctx, name);
  const grpc_auth_property *prop = grpc_auth_property_iterator_next(&it);
  if (prop == NULL) {
    return 0;
  }
  size_t n = prop->value_length < out_len - 1 ? prop->value_length : out_len - 1;
  memcpy(out, prop->value, n);
  out[n] = '\0';
  return 1;
}

/* peer_address strips gRPC's "ipv4:"/"ipv6:" from |peer| for the audit log. */
static const char *peer_address(const char *peer) {
  if (peer == NULL) {
    return "?";
  }
  if (strncmp(peer, "ipv4:", 5) == 0 || strncmp(peer, "ipv6:", 5) == 0) {
    return peer + 5;
  }
  return peer;
}

/* caller_from_tls names a TLS caller from its verified certificate. gRPC reports SAN
 * URIs under "peer_uri" (one property each), the subject under "x509_subject" and the
 * CN under "x509_common_name". */
static void caller_from_tls(const ROLE_MAP *map, const grpc_auth_context *ctx,
                            const char *peer, CALLER *out) {
  char uri_buf[PEER_MAX_URIS][256];
  const char *uris[PEER_MAX_URIS];
  size_t n_uris = 0;
  char subject[256];
  char cn[128];
  grpc_auth_property_iterator it =
      grpc_auth_context_find_properties_by_name(ctx, GRPC_PEER_URI_PROPERTY_NAME);
  const grpc_auth_property *prop;
  while ((prop = grpc_auth_property_iterator_next(&it)) != NULL && n_uris < PEER_MAX_URIS) {
    /* A URI longer than the buffer is skipped rather than matched truncated. */
    if (prop->value_length >= sizeof(uri_buf[0])) {
      continue;
    }
    memcpy(uri_buf[n_uris], prop->value, prop->value_length);
    uri_buf[n_uris][prop->value_length] = '\0';
    uris[n_uris] = uri_buf[n_uris];
    n_uris++;
  }
  int has_subject = auth_first_value(ctx, GRPC_X509_SUBJECT_PROPERTY_NAME, subject,
                                     sizeof(subject));
  int has_cn = auth_first_value(ctx, GRPC_X509_CN_PROPERTY_NAME, cn, sizeof(cn));
  ROLE_PEER rp = {
      .uris = uris,
      .n_uris = n_uris,
      .subject = has_subject ? subject : NULL,
      .common_name = has_cn ? cn : NULL,
  };
  /* A TLS peer without an authenticated certificate cannot get here with the listener's
   * REQUIRE_AND_VERIFY; if it ever did, it has no role. */
  out->role = grpc_auth_context_peer_is_authenticated(ctx) ? role_of_peer(map, &rp) : ROLE_NONE;
  out->tls = 1;
  if (has_subject && subject[0] != '\0') {
    snprintf(out->identity, sizeof(out->identity), "%s", subject);
  } else if (has_cn) {
    snprintf(out->identity, sizeof(out->identity), "CN=%s", cn);
  } else if (n_uris > 0) {
    snprintf(out->identity, sizeof(out->identity), "URI:%s", uris[0]);
  } else {
    snprintf(out->identity, sizeof(out->identity), "an unnamed certificate");
  }
  snprintf(out->name, sizeof(out->name), "%s: %s (tls %s)",
           out->role == ROLE_NONE ? "no role" : role_name(out->role), out->identity,
           peer_address(peer));
}

void caller_from_call(const ROLE_MAP *map, grpc_call *call, CALLER *out) {
  memset(out, 0, sizeof(*out));
  char *peer = grpc_call_get_peer(call);
  grpc_auth_context *ctx = NULL;
  char security[32];
  security[0] = '\0';
  if (peer != NULL && strncmp(peer, "unix:", 5) == 0) {
    /* The Unix socket is 0600 in a 0700 directory: whoever reaches it is the daemon's
     * own administrator. */
    out->role = ROLE_ADMIN;
    snprintf(out->name, sizeof(out->name), "admin (unix socket)");
    goto out;
  }
  ctx = grpc_call_auth_context(call);
  if (ctx != NULL) {
    auth_first_value(ctx, GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME, security,
                     sizeof(security));
  }
  if (strcmp(security, GRPC_SSL_TRANSPORT_SECURITY_TYPE) == 0 ||
      strcmp(security, GRPC_TLS_TRANSPORT_SECURITY_TYPE) == 0) {
    caller_from_tls(map, ctx, peer, out);
  } else if (strcmp(security, INSECURE_TRANSPORT_SECURITY_TYPE) == 0) {
    /* Plaintext TCP exists only on loopback with --insecure (main.c refuses anything
     * else), and the daemon warned at start that it makes every local user an admin. */
    out->role = ROLE_ADMIN;
    snprintf(out->name, sizeof(out->name), "admin (insecure loopback %s)", peer_address(peer));
  } else {
    /* Unknown transport: closed by default. */
    out->role = ROLE_NONE;
    snprintf(out->name, sizeof(out->name), "unidentified (%s %s)",
             security[0] != '\0' ? security : "no security type", peer_address(peer));
  }

out:
  if (ctx != NULL) {
    grpc_auth_context_release(ctx);
  }
  gpr_free(peer);
}

int role_authorize(const ROLE_MAP *map, const CALLER *caller, const char *method,
                   STATUS *err) {
  ROLE need = role_required(method);
  if (caller->role >= need) {
    return 1;
  }
  if (!caller->tls) {
    return status_set(err, STATUS_PERMISSION_DENIED, "%s needs the %s role; %s has none",
                      method, role_name(need), caller->name);
  }
  if (caller->role == ROLE_NONE) {
    const char *how = map->source == ROLE_FROM_URI ? "a subjectAltName URI matching"
                      : map->source == ROLE_FROM_OU ? "a subject OU matching"
                                                    : "a subject CN matching";
    return status_set(err, STATUS_PERMISSION_DENIED,
                      "%s needs the %s role; your certificate (%s) has no smimed role: "
                      "issue it with %s \"%s\" (admin) or \"%s\" (service); this daemon "
                      "reads roles with --role-from %s",
                      method, role_name(need), caller->identity, how, map->admin_match,
                      map->service_match, role_source_name(map->source));
  }
  return status_set(err, STATUS_PERMISSION_DENIED,
                    "%s needs the %s role; your certificate (%s) has the %s role", method,
                    role_name(need), caller->identity, role_name(caller->role));
}
