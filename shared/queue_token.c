/* queue_token.c - queue tokens signed with the service's key (see
 * queue_token.h). */
#include "queue_token.h"
#include "config.h"
#include "log.h"
#include "rand.h"
#include "valid.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

/* The key is the secret's HMAC of a fixed label, so the admin key itself
 * never keys anything but the admin API. */
static const char key_label[] = "concert queue token key v1";

/* The key derived from the configured secret, kept for the process: every
 * token a request presents is checked with it, often more than once. It
 * is derived again only if the config's secret is another string. */
static unsigned char derived_key[crypto_auth_hmacsha256_KEYBYTES];
static const char *derived_from;

static const unsigned char *token_key(void)
{
    const char *secret = g_config.token_key ? g_config.token_key : g_config.admin_key;
    crypto_auth_hmacsha256_state st;

    if (!secret || !*secret) {
        log_error("queue tokens: the config names neither token_key_file nor admin_key_file");
        return NULL;
    }
    if (secret == derived_from)
        return derived_key;
    derived_from = NULL;
    if (crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret)) != 0 ||
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)key_label, sizeof key_label - 1) != 0 ||
        crypto_auth_hmacsha256_final(&st, derived_key) != 0)
        return NULL;
    derived_from = secret;
    return derived_key;
}

static int token_mac(const char *id, char hex[QUEUE_TOKEN_MAC_HEX + 1])
{
    const unsigned char *key = token_key();
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    int rc = -1;

    if (key && crypto_auth_hmacsha256(mac, (const unsigned char *)id, strlen(id), key) == 0) {
        sodium_bin2hex(hex, QUEUE_TOKEN_MAC_HEX + 1, mac, QUEUE_TOKEN_MAC_HEX / 2);
        rc = 0;
    }
    sodium_memzero(mac, sizeof mac);
    return rc;
}

int queue_token_new_id(int64_t concert_id, char id[QUEUE_TOKEN_ID_MAX + 1])
{
    unsigned char random[QUEUE_TOKEN_RANDOM_BYTES];
    char text[QUEUE_TOKEN_RANDOM_LEN + 1];

    if (rand_bytes(random, sizeof random) < 0) {
        log_error("getrandom failed");
        return -1;
    }
    sodium_bin2base64(text, sizeof text, random, sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(id, QUEUE_TOKEN_ID_MAX + 1, "%" PRId64 ".%s", concert_id, text);
    return 0;
}

int queue_token_sign(const char *id, char token[QUEUE_TOKEN_MAX + 1])
{
    char mac[QUEUE_TOKEN_MAC_HEX + 1];

    if (strlen(id) > QUEUE_TOKEN_ID_MAX || token_mac(id, mac) < 0)
        return -1;
    snprintf(token, QUEUE_TOKEN_MAX + 1, "%s.%s", id, mac);
    return 0;
}

int queue_token_open(const char *token, char id[QUEUE_TOKEN_ID_MAX + 1], int64_t *concert_id)
{
    char mac[QUEUE_TOKEN_MAC_HEX + 1];
    const char *dot;
    size_t len;

    if (!token)
        return -1;
    len = strnlen(token, QUEUE_TOKEN_MAX + 1);
    dot = strrchr(token, '.');
    if (len > QUEUE_TOKEN_MAX || !dot || (size_t)(dot - token) > QUEUE_TOKEN_ID_MAX ||
        strlen(dot + 1) != QUEUE_TOKEN_MAC_HEX)
        return -1;
    memcpy(id, token, (size_t)(dot - token));
    id[dot - token] = '\0';
    if (queue_token_concert(id, concert_id) < 0 || token_mac(id, mac) < 0 ||
        sodium_memcmp(mac, dot + 1, QUEUE_TOKEN_MAC_HEX) != 0) {
        id[0] = '\0';
        return -1;
    }
    return 0;
}

/* The random part of an id: QUEUE_TOKEN_RANDOM_LEN characters of
 * unpadded base64url, or 32 lowercase hex digits (ids made before the
 * shorter form, still live in Redis after an upgrade). */
static int random_part_ok(const char *p)
{
    size_t n = strlen(p);

    if (n == QUEUE_TOKEN_RANDOM_LEN)
        return strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
    return n == 32 && strspn(p, "0123456789abcdef") == n;
}

int queue_token_concert(const char *id, int64_t *concert_id)
{
    const char *dot;
    char idtext[24];
    size_t idlen;

    if (!id || strlen(id) > QUEUE_TOKEN_ID_MAX)
        return -1;
    dot = strchr(id, '.');
    if (!dot)
        return -1;
    idlen = (size_t)(dot - id);
    if (idlen == 0 || idlen >= sizeof idtext || !random_part_ok(dot + 1))
        return -1;
    memcpy(idtext, id, idlen);
    idtext[idlen] = '\0';
    return valid_id(idtext, concert_id);
}
