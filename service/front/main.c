/* main.c: smimed, the front process: flags, start-up order, signals, shutdown.
 *
 * Start-up order matters (DESIGN.md section 2): PostgreSQL (fork+exec) and the worker
 * processes are started before grpc_init, because forking a process in which gRPC has
 * started threads is unsafe. Shutdown runs in reverse: stop accepting calls, let calls
 * in flight finish, stop the workers, close the database, stop PostgreSQL. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protos/descriptor_set.h"
#include "service/common/log.h"
#include "service/common/malloc_tuning.h"
#include "service/db/db.h"
#include "service/db/kek_rotation_store.h"
#include "service/db/log_writer.h"
#include "service/db/pg_cluster.h"
#include "service/db/pg_supervisor.h"
#include "service/front/app.h"
#include "service/front/kek_rotation.h"
#include "service/front/metrics.h"
#include "service/front/reflection.h"
#include "service/front/server.h"
#include "service/pool/worker_pool.h"

#define DEFAULT_MAX_MESSAGE_SIZE (32u * 1024 * 1024)

/* MIME_DEPTH_*, MIME_PARTS_* and CHAIN_LENGTH_* are the ranges and defaults of the
 * engines' limits (--max-mime-depth, --max-mime-parts, --max-chain-length), as
 * service/engine/engine_limits.h has them: the front does not link the engine, which
 * checks its arguments again and exits 2 on a bad one. */
#define MIME_DEPTH_MIN 1
#define MIME_DEPTH_MAX 64
#define MIME_DEPTH_DEFAULT 8
#define MIME_PARTS_MIN 1
#define MIME_PARTS_MAX 100000
#define MIME_PARTS_DEFAULT 10000
#define CHAIN_LENGTH_MIN 2
#define CHAIN_LENGTH_MAX 32
#define CHAIN_LENGTH_DEFAULT 10
#define SHUTDOWN_GRACE_MS 30000

typedef struct options_st {
  const char *data_dir;
  const char *database_url;
  const char *kek_file;
  const char *socket_path;
  const char *listen;
  int insecure;
  const char *tls_cert;
  const char *tls_key;
  const char *client_ca;
  const char *role_from;
  const char *admin_match;
  const char *service_match;
  unsigned threads;
  unsigned engines;
  unsigned keystores;
  unsigned max_recipients;
  unsigned max_layers;
  unsigned max_mime_depth;
  unsigned max_mime_parts;
  unsigned max_chain_length;
  size_t max_message_size;
  const char *postgres_bindir;
  const char *run_as;
  const char *engine_path;
  const char *keystore_path;
  const char *metrics_listen;
  const char *rotate_kek; /* --rotate-kek NEW_KEK_FILE: rotate, then exit */
  ROLE_MAP roles; /* from --role-from, --admin-match, --service-match */
} OPTIONS;

static const char kUsage[] =
    "usage: smimed --data-dir DIR [options]\n"
    "       smimed --database-url URL --kek-file FILE --socket PATH [options]\n"
    "       smimed --data-dir DIR --rotate-kek NEW_KEK_FILE\n"
    "       smimed --database-url URL --kek-file FILE --rotate-kek NEW_KEK_FILE\n"
    "\n"
    "smimed signs, encrypts, verifies and decrypts S/MIME mail for a helpdesk, over gRPC.\n"
    "\n"
    "Embedded default: `smimed --data-dir DIR` creates, on first start, a private\n"
    "PostgreSQL cluster in DIR/pgdata (started and stopped with the daemon), a\n"
    "key-encryption key DIR/kek.key (mode 0600), and listens on unix:DIR/smimed.sock\n"
    "(mode 0600; whoever can open it is an admin). Run as root, PostgreSQL runs as the\n"
    "system user `smimed` (scripts/setup.sh creates it).\n"
    "\n"
    "options:\n"
    "  --data-dir DIR           state directory (embedded PostgreSQL, key file, socket)\n"
    "  --database-url URL       use this PostgreSQL instead of an embedded one, e.g.\n"
    "                           postgresql://smimed@db.internal/smimed\n"
    "  --kek-file FILE          key-encryption key (32 bytes, or 64 hex digits), created\n"
    "                           if missing; default DIR/kek.key. Replicas must share it.\n"
    "  --socket PATH            Unix socket to listen on; default DIR/smimed.sock\n"
    "  --listen HOST:PORT       also listen on TCP, with mutual TLS: needs --tls-cert,\n"
    "                           --tls-key and --client-ca (or --insecure on loopback)\n"
    "  --tls-cert FILE          PEM certificate chain the server presents (leaf first)\n"
    "  --tls-key FILE           PEM private key of --tls-cert\n"
    "  --client-ca FILE         PEM CA certificate(s) that client certificates must chain\n"
    "                           to; a client without such a certificate cannot connect\n"
    "  --role-from uri|ou|cn    where a client certificate names its role (default uri):\n"
    "                           uri: a subjectAltName URI; ou: an OU of the subject;\n"
    "                           cn: the subject's CN\n"
    "  --admin-match PATTERN    the value (fnmatch pattern: * ? [...]) that makes a\n"
    "                           client an admin; default smimed:role:admin for uri,\n"
    "                           smimed-admin for ou and cn\n"
    "  --service-match PATTERN  likewise for the service role; default\n"
    "                           smimed:role:service for uri, smimed-service for ou and cn\n"
    "  --insecure               allow --listen without TLS (loopback hosts only); every\n"
    "                           local user can then call it as admin\n"
    "  --threads N              calls handled at once (default 8)\n"
    "  --engines N              engine processes (default: one per core)\n"
    "  --keystores N            keystore processes, each holding the key-encryption key\n"
    "                           (default: one per core; private-key operations run on\n"
    "                           as many cores as there are keystores)\n"
    "  --max-message-size N     largest request in bytes, K or M suffix (default 32M);\n"
    "                           larger ones get RESOURCE_EXHAUSTED\n"
    "  --max-recipients N       recipients of one message, sender not counted (1-256,\n"
    "                           default 256); more get RESOURCE_EXHAUSTED\n"
    "  --max-layers N           nested S/MIME layers DecryptVerify opens (1-16, default 8);\n"
    "                           deeper ones are reported, not opened\n"
    "  --max-mime-depth N       MIME nesting of a message SignEncrypt or DecryptVerify\n"
    "                           parses, and of each layer opened (1-64, default 8: the\n"
    "                           top-level entity is level 0, its parts level 1); deeper\n"
    "                           ones get RESOURCE_EXHAUSTED\n"
    "  --max-mime-parts N       MIME parts of one message or layer, the top-level entity\n"
    "                           included (1-100000, default 10000); more get\n"
    "                           RESOURCE_EXHAUSTED\n"
    "  --max-chain-length N     certificates in a chain from signer to trust anchor, both\n"
    "                           included (2-32, default 10): a longer chain leaves an\n"
    "                           incoming signature untrusted, and SignEncrypt refuses\n"
    "                           (RESOURCE_EXHAUSTED) to sign with a longer stored chain\n"
    "  --postgres-bindir DIR    PostgreSQL server binaries (default " PG_CLUSTER_DEFAULT_BINDIR ")\n"
    "  --run-as USER            user for the embedded PostgreSQL when run as root\n"
    "                           (default smimed)\n"
    "  --engine-path FILE       smime-engine binary (default: beside smimed)\n"
    "  --keystore-path FILE     smime-keystore binary (default: beside smimed)\n"
    "  --metrics-listen HOST:PORT\n"
    "                           serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                           (plain HTTP, no authentication: keep it on loopback or a\n"
    "                           pod network), e.g. 127.0.0.1:9464\n"
    "  --log-format text|json   the daemon's and its workers' stderr log: a line of text\n"
    "                           (default) or one JSON object per line (time, program,\n"
    "                           pid, level, message), for log collectors\n"
    "  --rotate-kek NEW_KEK_FILE\n"
    "                           re-wrap every stored private key under the key in\n"
    "                           NEW_KEK_FILE (created, 32 random bytes, mode 0600, when\n"
    "                           absent) in one transaction, then exit; every smimed on the\n"
    "                           database must be stopped. With --data-dir the new key\n"
    "                           becomes DIR/kek.key (NEW_KEK_FILE must be on DIR's file\n"
    "                           system) and the old one DIR/kek.key.retired-CHECKVALUE.\n"
    "                           Run it again after an interruption (SECURITY.md)\n"
    "  --version                print the version and exit\n"
    "  --help                   this text\n"
    "\n"
    "Roles: admin may call every RPC; service may call SignEncrypt, DecryptVerify,\n"
    "GetSecurityOptions, ListLogs, ListRetryable, GetSettings, ListCertificates,\n"
    "GetCertificate, ExportCertificate, health and reflection (README.md: the role\n"
    "matrix). The Unix socket is admin. A certificate matching neither pattern is refused\n"
    "every RPC with PERMISSION_DENIED. Example client certificate extension for the\n"
    "default: subjectAltName = URI:smimed:role:service\n"
    "\n"
    "Stop with SIGTERM or SIGINT: calls in flight finish, then everything stops cleanly.\n"
    "Call it with smimectl, e.g.: smimectl --addr unix:DIR/smimed.sock get-settings\n";

static int parse_unsigned(const char *flag, const char *text, unsigned min, unsigned max,
                          unsigned *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "smimed: %s must be a number from %u to %u, not \"%s\"\n", flag, min, max,
            text);
    return 0;
  }
  *out = (unsigned)v;
  return 1;
}

/* parse_size reads "33554432", "64K" or "32M". */
static int parse_size(const char *flag, const char *text, size_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  unsigned long long mult = 1;
  if (end != NULL && (*end == 'K' || *end == 'k')) {
    mult = 1024;
    end++;
  } else if (end != NULL && (*end == 'M' || *end == 'm')) {
    mult = 1024 * 1024;
    end++;
  }
  if (errno != 0 || end == text || *end != '\0' || v == 0 || v > (1ull << 30) / mult) {
    fprintf(stderr, "smimed: %s must be a size from 1 to 1024M (e.g. 32M), not \"%s\"\n", flag,
            text);
    return 0;
  }
  *out = (size_t)(v * mult);
  return 1;
}

static int is_loopback_listen(const char *addr) {
  return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "localhost:", 10) == 0 ||
         strncmp(addr, "[::1]:", 6) == 0;
}

/* check_listen_options enforces: TCP is mutual TLS (all three files), or plaintext on
 * loopback with --insecure; never a mix, so that no flag is silently ignored. */
static int check_listen_options(const OPTIONS *o) {
  int n_tls = (o->tls_cert != NULL) + (o->tls_key != NULL) + (o->client_ca != NULL);
  if (o->listen == NULL) {
    if (n_tls > 0 || o->insecure) {
      fprintf(stderr, "smimed: --tls-cert, --tls-key, --client-ca and --insecure apply to "
                      "--listen HOST:PORT, which is missing\n");
      return 0;
    }
    return 1;
  }
  if (n_tls > 0 && o->insecure) {
    fprintf(stderr, "smimed: --insecure and the TLS flags exclude each other: give "
                    "--tls-cert, --tls-key and --client-ca for mutual TLS, or --insecure "
                    "alone for plaintext on loopback\n");
    return 0;
  }
  if (n_tls > 0 && n_tls < 3) {
    fprintf(stderr, "smimed: --listen with TLS needs all of --tls-cert, --tls-key and "
                    "--client-ca (missing:%s%s%s)\n",
            o->tls_cert == NULL ? " --tls-cert" : "", o->tls_key == NULL ? " --tls-key" : "",
            o->client_ca == NULL ? " --client-ca" : "");
    return 0;
  }
  if (n_tls == 0 && !(o->insecure && is_loopback_listen(o->listen))) {
    fprintf(stderr, "smimed: --listen %s needs mutual TLS (--tls-cert FILE --tls-key FILE "
                    "--client-ca FILE); plaintext is allowed only on a loopback address "
                    "with --insecure\n",
            o->listen);
    return 0;
  }
  return 1;
}

/* parse_options returns 1 to run, 0 to exit with status |*out_exit|. */
static int parse_options(int argc, char **argv, OPTIONS *o, int *out_exit) {
  enum {
    OPT_DATA_DIR = 1000, OPT_DATABASE_URL, OPT_KEK_FILE, OPT_SOCKET, OPT_LISTEN, OPT_INSECURE,
    OPT_THREADS, OPT_ENGINES, OPT_KEYSTORES, OPT_MAX_MESSAGE_SIZE, OPT_POSTGRES_BINDIR, OPT_RUN_AS,
    OPT_ENGINE_PATH, OPT_KEYSTORE_PATH, OPT_VERSION, OPT_HELP, OPT_TLS_CERT, OPT_TLS_KEY,
    OPT_CLIENT_CA, OPT_ROLE_FROM, OPT_ADMIN_MATCH, OPT_SERVICE_MATCH, OPT_METRICS_LISTEN,
    OPT_LOG_FORMAT, OPT_MAX_RECIPIENTS, OPT_MAX_LAYERS, OPT_ROTATE_KEK,
    OPT_MAX_MIME_DEPTH, OPT_MAX_MIME_PARTS, OPT_MAX_CHAIN_LENGTH,
  };
  static const struct option longopts[] = {
      {"data-dir", required_argument, NULL, OPT_DATA_DIR},
      {"database-url", required_argument, NULL, OPT_DATABASE_URL},
      {"kek-file", required_argument, NULL, OPT_KEK_FILE},
      {"socket", required_argument, NULL, OPT_SOCKET},
      {"listen", required_argument, NULL, OPT_LISTEN},
      {"insecure", no_argument, NULL, OPT_INSECURE},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"engines", required_argument, NULL, OPT_ENGINES},
      {"keystores", required_argument, NULL, OPT_KEYSTORES},
      {"max-message-size", required_argument, NULL, OPT_MAX_MESSAGE_SIZE},
      {"postgres-bindir", required_argument, NULL, OPT_POSTGRES_BINDIR},
      {"run-as", required_argument, NULL, OPT_RUN_AS},
      {"engine-path", required_argument, NULL, OPT_ENGINE_PATH},
      {"keystore-path", required_argument, NULL, OPT_KEYSTORE_PATH},
      {"version", no_argument, NULL, OPT_VERSION},
      {"help", no_argument, NULL, OPT_HELP},
      {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
      {"tls-key", required_argument, NULL, OPT_TLS_KEY},
      {"client-ca", required_argument, NULL, OPT_CLIENT_CA},
      {"role-from", required_argument, NULL, OPT_ROLE_FROM},
      {"admin-match", required_argument, NULL, OPT_ADMIN_MATCH},
      {"service-match", required_argument, NULL, OPT_SERVICE_MATCH},
      {"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
      {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
      {"max-recipients", required_argument, NULL, OPT_MAX_RECIPIENTS},
      {"max-layers", required_argument, NULL, OPT_MAX_LAYERS},
      {"max-mime-depth", required_argument, NULL, OPT_MAX_MIME_DEPTH},
      {"max-mime-parts", required_argument, NULL, OPT_MAX_MIME_PARTS},
      {"max-chain-length", required_argument, NULL, OPT_MAX_CHAIN_LENGTH},
      {"rotate-kek", required_argument, NULL, OPT_ROTATE_KEK},
      {NULL, 0, NULL, 0},
  };
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  memset(o, 0, sizeof(*o));
  o->threads = 8;
  o->engines = cores > 0 ? (unsigned)cores : 1;
  o->keystores = o->engines;
  o->max_recipients = APP_MAX_RECIPIENTS;
  o->max_layers = 8;
  o->max_mime_depth = MIME_DEPTH_DEFAULT;
  o->max_mime_parts = MIME_PARTS_DEFAULT;
  o->max_chain_length = CHAIN_LENGTH_DEFAULT;
  o->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
  *out_exit = 2;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DATA_DIR: o->data_dir = optarg; break;
      case OPT_DATABASE_URL: o->database_url = optarg; break;
      case OPT_KEK_FILE: o->kek_file = optarg; break;
      case OPT_SOCKET: o->socket_path = optarg; break;
      case OPT_LISTEN: o->listen = optarg; break;
      case OPT_INSECURE: o->insecure = 1; break;
      case OPT_THREADS:
        if (!parse_unsigned("--threads", optarg, 1, 256, &o->threads)) return 0;
        break;
      case OPT_MAX_RECIPIENTS:
        if (!parse_unsigned("--max-recipients", optarg, 1, APP_MAX_RECIPIENTS,
                            &o->max_recipients)) return 0;
        break;
      case OPT_MAX_LAYERS:
        if (!parse_unsigned("--max-layers", optarg, 1, APP_MAX_LAYERS, &o->max_layers)) return 0;
        break;
      case OPT_MAX_MIME_DEPTH:
        if (!parse_unsigned("--max-mime-depth", optarg, MIME_DEPTH_MIN, MIME_DEPTH_MAX,
                            &o->max_mime_depth)) return 0;
        break;
      case OPT_MAX_MIME_PARTS:
        if (!parse_unsigned("--max-mime-parts", optarg, MIME_PARTS_MIN, MIME_PARTS_MAX,
                            &o->max_mime_parts)) return 0;
        break;
      case OPT_MAX_CHAIN_LENGTH:
        if (!parse_unsigned("--max-chain-length", optarg, CHAIN_LENGTH_MIN, CHAIN_LENGTH_MAX,
                            &o->max_chain_length)) return 0;
        break;
      case OPT_ENGINES:
        if (!parse_unsigned("--engines", optarg, 1, 64, &o->engines)) return 0;
        break;
      case OPT_KEYSTORES:
        if (!parse_unsigned("--keystores", optarg, 1, 64, &o->keystores)) return 0;
        break;
      case OPT_MAX_MESSAGE_SIZE:
        if (!parse_size("--max-message-size", optarg, &o->max_message_size)) return 0;
        break;
      case OPT_POSTGRES_BINDIR: o->postgres_bindir = optarg; break;
      case OPT_LOG_FORMAT:
        /* The environment carries the choice to log.c here and in the workers. */
        if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
          fprintf(stderr, "smimed: --log-format must be text or json, not \"%s\"\n", optarg);
          return 0;
        }
        setenv("SMIMED_LOG_FORMAT", optarg, 1);
        break;
      case OPT_RUN_AS: o->run_as = optarg; break;
      case OPT_ENGINE_PATH: o->engine_path = optarg; break;
      case OPT_KEYSTORE_PATH: o->keystore_path = optarg; break;
      case OPT_VERSION:
        printf("smimed %s\n", SMIMED_VERSION);
        *out_exit = 0;
        return 0;
      case OPT_HELP:
        fputs(kUsage, stdout);
        *out_exit = 0;
        return 0;
      case OPT_TLS_CERT: o->tls_cert = optarg; break;
      case OPT_TLS_KEY: o->tls_key = optarg; break;
      case OPT_CLIENT_CA: o->client_ca = optarg; break;
      case OPT_ROLE_FROM: o->role_from = optarg; break;
      case OPT_ADMIN_MATCH: o->admin_match = optarg; break;
      case OPT_SERVICE_MATCH: o->service_match = optarg; break;
      case OPT_METRICS_LISTEN: o->metrics_listen = optarg; break;
      case OPT_ROTATE_KEK: o->rotate_kek = optarg; break;
      default:
        fprintf(stderr, "smimed: unknown or incomplete option \"%s\"; see smimed --help\n",
                argv[optind - 1]);
        return 0;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "smimed: unexpected argument \"%s\"; see smimed --help\n", argv[optind]);
    return 0;
  }
  if (o->data_dir == NULL && (o->database_url == NULL || o->kek_file == NULL ||
                              (o->socket_path == NULL && o->listen == NULL &&
                               o->rotate_kek == NULL))) {
    fprintf(stderr, "smimed: give --data-dir DIR (embedded default), or --database-url with "
                    "--kek-file and --socket or --listen; see smimed --help\n");
    return 0;
  }
  if (!check_listen_options(o)) {
    return 0;
  }
  if (o->tls_cert == NULL &&
      (o->role_from != NULL || o->admin_match != NULL || o->service_match != NULL)) {
    fprintf(stderr, "smimed: --role-from, --admin-match and --service-match read client "
                    "certificates: they need --listen with --tls-cert, --tls-key and "
                    "--client-ca\n");
    return 0;
  }
  STATUS err;
  if (o->metrics_listen != NULL && !metrics_check_addr(o->metrics_listen, &err)) {
    fprintf(stderr, "smimed: %s\n", err.message);
    return 0;
  }
  if (!role_map_init(&o->roles, o->role_from, o->admin_match, o->service_match, &err)) {
    fprintf(stderr, "smimed: %s\n", err.message);
    return 0;
  }
  return 1;
}

/* PEM_FILE_MAX bounds what --tls-cert, --tls-key and --client-ca may hold. */
#define PEM_FILE_MAX (1024 * 1024)

/* read_pem_file reads |path| (given as |flag|) whole, as a NUL-terminated string that
 * must contain a PEM block whose BEGIN line contains |label| ("CERTIFICATE", "PRIVATE
 * KEY"): a wrong or DER file is reported at start, naming the flag, instead of as a
 * vague TLS failure. Returns NULL with the reason in |err|. */
static char *read_pem_file(const char *flag, const char *path, const char *label,
                           STATUS *err) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT, "%s %s: cannot read: %s", flag, path,
               strerror(errno));
    goto err;
  }
  buf = malloc(PEM_FILE_MAX + 1);
  if (buf == NULL) {
    status_set(err, STATUS_INTERNAL, "out of memory");
    goto err;
  }
  len = fread(buf, 1, PEM_FILE_MAX + 1, f);
  if (ferror(f)) {
    status_set(err, STATUS_INVALID_ARGUMENT, "%s %s: cannot read: %s", flag, path,
               strerror(errno));
    goto err;
  }
  if (len > PEM_FILE_MAX) {
    status_set(err, STATUS_INVALID_ARGUMENT, "%s %s: larger than %d bytes; is it PEM?", flag,
               path, PEM_FILE_MAX);
    goto err;
  }
  buf[len] = '\0';
  const char *b = strstr(buf, "-----BEGIN ");
  while (b != NULL) {
    const char *eol = strchr(b, '\n');
    const char *hit = strstr(b, label);
    if (hit != NULL && (eol == NULL || hit < eol)) {
      break;
    }
    b = strstr(b + 1, "-----BEGIN ");
  }
  if (b == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "%s %s: no PEM %s in it (a \"-----BEGIN ...%s-----\" line); convert DER "
               "with openssl x509 (or pkey) -outform PEM",
               flag, path, label, label);
    goto err;
  }
  fclose(f);
  return buf;

err:
  if (f != NULL) {
    fclose(f);
  }
  free(buf);
  return NULL;
}

/* free_secret wipes and frees |*p| (the TLS private key): gRPC keeps its own copy, and
 * ours need not linger in freed memory. Accepts NULL. */
static void free_secret(char **p) {
  if (*p != NULL) {
    explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

/* sibling_path is |name| in the directory of the running smimed binary. */
static char *sibling_path(const char *name) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    return NULL;
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash == NULL) {
    return NULL;
  }
  *slash = '\0';
  size_t len = strlen(self) + strlen(name) + 2;
  char *out = malloc(len);
  if (out != NULL) {
    snprintf(out, len, "%s/%s", self, name);
  }
  return out;
}

static char *join_path(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *out = malloc(len);
  if (out != NULL) {
    snprintf(out, len, "%s/%s", dir, name);
  }
  return out;
}

/* prepare_data_dir creates DIR (0700) and takes its lock, so that two daemons never
 * share one data directory. Returns the lock fd, or -1. */
static int prepare_data_dir(const char *dir) {
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    log_error("cannot create data directory %s: %s", dir, strerror(errno));
    return -1;
  }
  char *lock_path = join_path(dir, "smimed.lock");
  int fd = lock_path != NULL ? open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
  if (fd < 0) {
    log_error("cannot open %s: %s", lock_path != NULL ? lock_path : dir, strerror(errno));
    free(lock_path);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    log_error("another smimed is running on %s (%s is locked)", dir, lock_path);
    close(fd);
    free(lock_path);
    return -1;
  }
  free(lock_path);
  return fd;
}

int main(int argc, char **argv) {
  OPTIONS opt;
  int exit_code = 1;
  int lock_fd = -1;
  PG_CLUSTER *cluster = NULL;
  PG_SUPERVISOR *supervisor = NULL;
  WORKER_POOL *pool = NULL;
  SERVER *server = NULL;
  METRICS_SERVER *metrics = NULL;
  KEK_DAEMON_LOCK *kek_lock = NULL;
  APP app;
  STATUS err;
  char *kek_path = NULL, *socket_path = NULL, *engine_path = NULL, *keystore_path = NULL;
  char listen_addr[PATH_MAX + 8];
  char *tls_cert_pem = NULL, *tls_key_pem = NULL, *client_ca_pem = NULL;
  int grpc_started = 0;
  memset(&app, 0, sizeof(app));
  sign_hint_init(&app.sign_hint);
  status_clear(&err);

  log_set_program("smimed");
  /* main runs with transparent huge pages for malloc (docs/PERFORMANCE.md, "Scale"),
   * and so do the workers it starts: they inherit the environment. */
  malloc_exec_with_huge_pages(argv);
  if (!parse_options(argc, argv, &opt, &exit_code)) {
    return exit_code;
  }
  malloc_tune_for_messages();

  /* Signals: every thread inherits this mask; the main thread alone takes them with
   * sigwait, so no handler runs inside gRPC or libpq. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  /* Files and sockets we create (key file, Unix socket) are ours alone. */
  umask(077);

  /* The TLS files are read before anything slow starts, so that a wrong path or file
   * fails at once with its flag's name. */
  if (opt.tls_cert != NULL) {
    tls_cert_pem = read_pem_file("--tls-cert", opt.tls_cert, "CERTIFICATE", &err);
    tls_key_pem =
        tls_cert_pem != NULL ? read_pem_file("--tls-key", opt.tls_key, "PRIVATE KEY", &err) : NULL;
    client_ca_pem = tls_key_pem != NULL
                        ? read_pem_file("--client-ca", opt.client_ca, "CERTIFICATE", &err)
                        : NULL;
    if (client_ca_pem == NULL) {
      log_error("%s", err.message);
      exit_code = 2;
      goto out;
    }
  }

  /* The metrics port is bound now, so that a port in use fails before anything slow
   * starts; its thread starts once the workers are up (it reports their restarts). */
  if (opt.metrics_listen != NULL) {
    metrics = metrics_server_new(opt.metrics_listen, SMIMED_VERSION, &err);
    if (metrics == NULL) {
      log_error("%s", err.message);
      goto out;
    }
  }

  if (opt.data_dir != NULL) {
    lock_fd = prepare_data_dir(opt.data_dir);
    if (lock_fd < 0) {
      if (opt.rotate_kek != NULL) {
        log_error("stop it before rotating the key-encryption key; nothing was changed");
      }
      goto out;
    }
  }
  kek_path = opt.kek_file != NULL ? strdup(opt.kek_file) : join_path(opt.data_dir, "kek.key");
  if (opt.socket_path != NULL) {
    socket_path = strdup(opt.socket_path);
  } else if (opt.data_dir != NULL) {
    socket_path = join_path(opt.data_dir, "smimed.sock");
  }
  engine_path = opt.engine_path != NULL ? strdup(opt.engine_path) : sibling_path("smime-engine");
  keystore_path =
      opt.keystore_path != NULL ? strdup(opt.keystore_path) : sibling_path("smime-keystore");
  if (kek_path == NULL || engine_path == NULL || keystore_path == NULL) {
    log_error("out of memory");
    goto out;
  }

  const char *conninfo = opt.database_url;
  if (conninfo == NULL) {
    PG_CLUSTER_CONFIG pg = {
        .data_dir = opt.data_dir, .bindir = opt.postgres_bindir, .run_as_user = opt.run_as};
    log_info("starting the embedded PostgreSQL in %s/pgdata", opt.data_dir);
    cluster = pg_cluster_start(&pg, &err);
    if (cluster == NULL) {
      log_error("PostgreSQL: %s", err.message);
      goto out;
    }
    conninfo = pg_cluster_conninfo(cluster);
  }
  if (opt.rotate_kek != NULL) {
    KEK_ROTATION_CONFIG rc = {.conninfo = conninfo, .engine_path = engine_path,
                              .keystore_path = keystore_path, .kek_path = kek_path,
                              .new_kek_path = opt.rotate_kek,
                              .data_dir = opt.kek_file == NULL ? opt.data_dir : NULL};
    exit_code = kek_rotation_main(&rc);
    free(socket_path); /* not ours to remove: rotation serves no socket */
    socket_path = NULL;
    goto out;
  }

  /* Every engine, restarted ones too, gets the limits on its command line. */
  char depth_text[16], parts_text[16], chain_text[16];
  snprintf(depth_text, sizeof(depth_text), "%u", opt.max_mime_depth);
  snprintf(parts_text, sizeof(parts_text), "%u", opt.max_mime_parts);
  snprintf(chain_text, sizeof(chain_text), "%u", opt.max_chain_length);
  const char *const engine_args[] = {"--max-mime-depth", depth_text, "--max-mime-parts",
                                     parts_text, "--max-chain-length", chain_text, NULL};
  WORKER_POOL_CONFIG wc = {.engine_path = engine_path,
                           .keystore_path = keystore_path,
                           .kek_path = kek_path,
                           .engines = opt.engines,
                           .keystores = opt.keystores,
                           .engine_args = engine_args};
  pool = worker_pool_start(&wc, &err);
  if (pool == NULL) {
    log_error("workers: %s", err.message);
    goto out;
  }
  app.pool = pool;
  app.max_recipients = opt.max_recipients;
  app.max_layers = opt.max_layers;
  snprintf(app.kek_check_value, sizeof(app.kek_check_value), "%s",
           worker_pool_kek_check_value(pool));
  log_info("%u engine process(es) and %u keystore process(es) are up; key-encryption key "
           "%s (check value %s)",
           opt.engines, opt.keystores, kek_path, app.kek_check_value);
  if (metrics != NULL) {
    if (!metrics_server_start(metrics, pool, &err)) {
      log_error("%s", err.message);
      goto out;
    }
    log_info("metrics at http://%s/metrics (plain HTTP)", opt.metrics_listen);
  }

  /* The shared advisory lock, held until exit, keeps smimed --rotate-kek off this
   * database while we run on the old key (kek_rotation_store.h). */
  kek_lock = kek_daemon_lock_take(conninfo, &err);
  if (kek_lock == NULL) {
    log_error("%s", err.message);
    goto out;
  }
  app.db = db_open(conninfo, opt.threads, &err);
  if (app.db == NULL) {
    log_error("database: %s", err.message);
    goto out;
  }
  if (!db_check_kek(app.db, app.kek_check_value, &err)) {
    log_error("%s", err.message);
    goto out;
  }
  log_info("database schema version %u", db_schema_version(app.db));
  app.log_writer = log_writer_start(app.db, &err);
  if (app.log_writer == NULL) {
    log_error("%s", err.message);
    goto out;
  }
  metrics_set_database(app.log_writer, app.db);

  grpc_init();
  grpc_started = 1;
  size_t n_names = 0;
  const char *const *names = app_service_names(&n_names);
  app.reflection = reflection_new(smime_descriptor_set, smime_descriptor_set_len, names, n_names,
                                  &err);
  if (app.reflection == NULL) {
    log_error("%s", err.message);
    goto out;
  }
  size_t n_methods = 0;
  const SERVER_METHOD *methods = app_methods(&n_methods);
  SERVER_CONFIG sc = {.threads = opt.threads, .max_message_size = opt.max_message_size,
                      .app = &app, .roles = &opt.roles, .denied = app_audit_denied};
  server = server_new(&sc, methods, n_methods, &err);
  if (server == NULL) {
    log_error("%s", err.message);
    goto out;
  }
  if (socket_path != NULL) {
    /* We hold the data directory's lock (or were given the path), so a socket file left
     * there is stale. */
    unlink(socket_path);
    snprintf(listen_addr, sizeof(listen_addr), "unix:%s", socket_path);
    if (!server_add_insecure_listener(server, listen_addr, &err)) {
      log_error("%s", err.message);
      goto out;
    }
    chmod(socket_path, 0600);
  }
  if (opt.listen != NULL && tls_cert_pem != NULL) {
    int ok = server_add_tls_listener(server, opt.listen, tls_cert_pem, tls_key_pem,
                                     client_ca_pem, &err);
    free_secret(&tls_key_pem);
    if (!ok) {
      log_error("%s", err.message);
      goto out;
    }
    log_info("listening on %s with mutual TLS: client certificates must chain to %s; roles "
             "from --role-from %s (admin \"%s\", service \"%s\")",
             opt.listen, opt.client_ca, role_source_name(opt.roles.source),
             opt.roles.admin_match, opt.roles.service_match);
  } else if (opt.listen != NULL) {
    if (!server_add_insecure_listener(server, opt.listen, &err)) {
      log_error("%s", err.message);
      goto out;
    }
    log_warn("listening on %s WITHOUT TLS (--insecure): every local user can call it as admin",
             opt.listen);
  }
  if (!server_start(server, &err)) {
    log_error("%s", err.message);
    goto out;
  }
  /* Last: it restarts a PostgreSQL that dies, forking only async-signal-safe children. */
  if (cluster != NULL && (supervisor = pg_supervisor_start(cluster, &err)) == NULL) {
    log_error("%s", err.message);
    goto out;
  }
  if (socket_path != NULL) {
    log_info("listening on unix:%s; try: smimectl --addr unix:%s get-settings", socket_path,
             socket_path);
  }
  log_info("smimed %s ready (%u threads, max message %zu bytes)", SMIMED_VERSION, opt.threads,
           opt.max_message_size);

  for (;;) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      log_info("SIGHUP ignored (nothing to reload)");
      continue;
    }
    log_info("%s received: finishing calls in flight, then stopping",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  exit_code = 0;

out:
  /* First: it must not restart the PostgreSQL that shutdown is about to stop. */
  pg_supervisor_stop(supervisor);
  if (server != NULL) {
    server_shutdown(server, SHUTDOWN_GRACE_MS);
  }
  if (socket_path != NULL && exit_code == 0) {
    unlink(socket_path);
  }
  /* The metrics thread reads the pool's counters: it stops before the pool is freed. */
  metrics_server_free(metrics);
  metrics_set_database(NULL, NULL);
  reflection_free(app.reflection);
  if (grpc_started) {
    grpc_shutdown();
  }
  worker_pool_free(pool);
  /* After the server: calls in flight may still queue audit entries until then. */
  log_writer_stop(app.log_writer);
  db_close(app.db);
  kek_daemon_lock_free(kek_lock);
  if (cluster != NULL) {
    log_info("stopping the embedded PostgreSQL");
    pg_cluster_stop(cluster);
  }
  if (lock_fd >= 0) {
    close(lock_fd);
  }
  free(kek_path);
  free(socket_path);
  free(engine_path);
  free(keystore_path);
  free(tls_cert_pem);
  free_secret(&tls_key_pem);
  free(client_ca_pem);
  if (exit_code == 0) {
    log_info("stopped");
  }
  return exit_code;
}
