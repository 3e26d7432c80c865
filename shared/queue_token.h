/* queue_token.h - a queue token's text, and the id Redis knows it by.
 *
 * Redis keeps a token under its id, "<concertId>.<22 base64url
 * characters>": the concert whose keys hold it and 128 bits from
 * getrandom(2), written short because Redis keeps the id four times a
 * waiting user (22 characters fit a smaller allocation than 32 hex digits
 * in each: about 64 bytes a user less). Ids of the older form, 32 hex
 * digits, are still read (tokens live across an upgrade). The client is
 * given the id with a MAC of it appended, "<id>.<32 hex digits>": the first
 * 128 bits of HMAC-SHA-256 of the id under the service's token key. So a
 * copy of Redis's data (a dump, a replica, MONITOR, the queue's own hashes)
 * names tokens that nobody can present, as sessions are kept only as a
 * digest; and a made-up or altered token is refused before Redis is asked.
 *
 * The token key is derived from token_key_file's first line when the config
 * names one, else from the admin key: every responder of the service must
 * have the same one, and changing it ends every live token. */
#ifndef CONCERT_QUEUE_TOKEN_H
#define CONCERT_QUEUE_TOKEN_H

#include <stdint.h>

#define QUEUE_TOKEN_RANDOM_BYTES 16
#define QUEUE_TOKEN_RANDOM_LEN 22   /* unpadded base64url of the 16 bytes */
/* "<concertId>.<random part>": a concert id has at most 19 digits, and the
 * random part of an older id 32 hex digits. */
#define QUEUE_TOKEN_ID_MAX (19 + 1 + 32)
#define QUEUE_TOKEN_MAC_HEX 32
/* What a client holds: "<id>.<MAC>". */
#define QUEUE_TOKEN_MAX (QUEUE_TOKEN_ID_MAX + 1 + QUEUE_TOKEN_MAC_HEX)

/* Makes a new id for concert_id. Returns 0, or -1 when getrandom failed. */
int queue_token_new_id(int64_t concert_id, char id[QUEUE_TOKEN_ID_MAX + 1]);

/* The token a client is given for id. Returns 0, or -1 when the config has
 * no key to sign with (logged). */
int queue_token_sign(const char *id, char token[QUEUE_TOKEN_MAX + 1]);

/* Checks a token's form and MAC; fills its id and concert. Returns 0, or -1
 * for anything a client could not have been given. */
int queue_token_open(const char *token, char id[QUEUE_TOKEN_ID_MAX + 1], int64_t *concert_id);

/* The concert of an id ("<concertId>.<32 lowercase hex>"); -1 when
 * malformed. */
int queue_token_concert(const char *id, int64_t *concert_id);

#endif
