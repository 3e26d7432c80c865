/* text_copy.h - a setting kept as a string of its own.
 *
 * The store contexts (db.c, rds.c) keep copies of what they are given
 * (connection strings, hosts, passwords), since a caller's string may not
 * live as long as the context. */
#ifndef CONCERT_TEXT_COPY_H
#define CONCERT_TEXT_COPY_H

/* Frees *slot and puts a copy of value there (NULL for NULL). Returns 0, or
 * -1 out of memory (logged; *slot is then NULL). */
int text_copy_into(char **slot, const char *value);

#endif
