/* prepared.h: statements prepared once per connection.
 *
 * PostgreSQL parses and plans a statement sent as text every time: about a quarter of a
 * cached read's server time (pgbench) and a fifth of an audit insert's. A text prepared
 * on a connection is sent by name from then on. What a connection has prepared is
 * recorded with the PGconn itself (libpq's instance data, through an event procedure):
 * the record ends with PQfinish and is emptied by PQreset, whose session has none.
 * A connection is used by one thread at a time; so is its record. */
#ifndef SMIMED_DB_PREPARED_H
#define SMIMED_DB_PREPARED_H

#include <libpq-fe.h>

/* PREPARED_MAX bounds the texts prepared on one connection: the hot reads and the
 * audit batch's statements are a few dozen; any beyond the bound are sent as text. */
#define PREPARED_MAX 48

/* PREPARED_NAME_LEN is the size of a statement name buffer. */
#define PREPARED_NAME_LEN 32

/* prepared_name writes into |name| the name under which |sql| is prepared on |conn| and
 * returns 1, or returns 0 when it is not (not yet, or PostgreSQL refused it). */
int prepared_name(PGconn *conn, const char *sql, char name[PREPARED_NAME_LEN]);

/* prepared_now prepares |sql| (with |n_params| parameters) on |conn|, which must not be
 * in pipeline mode, unless that was done or refused before; returns 1 with its name
 * when it is prepared. A text PostgreSQL refuses is remembered and not tried again: the
 * caller sends it as text, which reports the error. */
int prepared_now(PGconn *conn, const char *sql, int n_params, char name[PREPARED_NAME_LEN]);

/* prepared_later records |sql| to be prepared by prepared_pending: for a connection in
 * pipeline mode, which cannot wait for a Prepare's answer before using the name. */
void prepared_later(PGconn *conn, const char *sql, int n_params);

/* prepared_pending prepares what prepared_later recorded on |conn| (out of pipeline
 * mode, outside a failed transaction). */
void prepared_pending(PGconn *conn);

#endif /* SMIMED_DB_PREPARED_H */
