/* 04-cluster-slot: the hash slot rds.c's cluster mode routes a key by is
 * the one Redis Cluster computes: CRC16 (XMODEM) of the hash tag, modulo
 * 16384, against the spec's vectors and slots a real Redis gave; and every
 * key of one concert, one session or the login counters shares a slot (the
 * rule keyspace.h states). */
#include "tap.h"
#include "keyspace.h"
#include "rds_cluster.h"

static int slot_of(const char *key)
{
    return rds_cluster_key_slot(key, strlen(key));
}

int main(void)
{
    char a[KEYSPACE_CONCERT_KEY_SIZE], b[KEYSPACE_CONCERT_KEY_SIZE], session[128], side[160];

    plan(14);
    is_int(rds_cluster_crc16("123456789", 9), 0x31C3, "CRC16 of \"123456789\" is 0x31C3 (the spec's check value)");
    is_int(rds_cluster_crc16("", 0), 0, "CRC16 of nothing is 0");
    /* Slots as CLUSTER KEYSLOT answers them (Redis 7.0). */
    is_int(slot_of("foo"), 12182, "foo is in slot 12182");
    is_int(slot_of("bar"), 5061, "bar is in slot 5061");
    is_int(slot_of("123456789"), 0x31C3 % 16384, "a key without a tag: the CRC16 of all of it");
    is_int(slot_of("{user1000}.following"), slot_of("{user1000}.followers"),
           "{user1000}.following shares a slot with {user1000}.followers");
    is_int(slot_of("{user1000}.following"), slot_of("user1000"), "the tag alone picks the slot");
    is_int(slot_of("foo{}{bar}"), 8363, "an empty first tag: the whole key is hashed (slot 8363)");
    ok(slot_of("foo{}{bar}") != slot_of("bar"), "an empty first tag does not fall back to the second");
    is_int(slot_of("foo{{bar}}zap"), 4015, "the tag runs from the first { to the first } after it (slot 4015)");
    is_int(slot_of("foo{bar}{zap}"), slot_of("bar"), "only the first tag counts");

    keyspace_queue(a, sizeof a, 42, QUEUE_KEY_WAITING);
    keyspace_seat_lock(b, sizeof b, 42, 7, 13);
    is_int(slot_of(a), slot_of(b), "a concert's queue and its seat locks share a slot");
    keyspace_session(session, sizeof session, "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff");
    keyspace_session_side(side, sizeof side, session, "tokens");
    is_int(slot_of(side), slot_of(session), "a session's side set shares the session's slot");
    keyspace_login_address(a, sizeof a, "192.0.2.1");
    keyspace_login_email(b, sizeof b, "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff");
    is_int(slot_of(a), slot_of(b), "the failed-login counters share a slot");
    return done_testing();
}
