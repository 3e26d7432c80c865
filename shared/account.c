/* account.c - sign-up and login input rules (see account.h). */
#include "account.h"

size_t account_chars(const char *s, size_t len)
{
    size_t n = 0;

    /* Every code point has exactly one byte that is not a continuation byte
     * (10xxxxxx). */
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

const char *account_email_normalize(const char *email, size_t len,
                                    char out[ACCOUNT_EMAIL_MAX_BYTES + 1])
{
    size_t chars = account_chars(email, len), at = len;
    int ats = 0;

    if (chars < ACCOUNT_EMAIL_MIN || chars > ACCOUNT_EMAIL_MAX || len > ACCOUNT_EMAIL_MAX_BYTES)
        return "must be 3 to 254 characters";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)email[i];

        if (c <= ' ' || c == 0x7F)
            return "must not contain spaces or control characters";
        if (c == '@') {
            ats++;
            at = i;
        }
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c;
    }
    out[len] = '\0';
    if (ats != 1 || at == 0 || at == len - 1)
        return "must have one '@' with a name before it and a domain after it";
    return NULL;
}

const char *account_password_problem(const char *password, size_t len)
{
    size_t chars = account_chars(password, len);

    if (chars < ACCOUNT_PASSWORD_MIN || chars > ACCOUNT_PASSWORD_MAX || len > ACCOUNT_PASSWORD_MAX_BYTES)
        return "must be 10 to 128 characters";
    return NULL;
}
