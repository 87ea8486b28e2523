#include "jsonutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    /* Ranges from RFC 3629 section 4: they exclude overlong forms and
     * surrogates, which jansson would also reject. */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

json_t *json_string_lossy(const char *bytes, size_t len)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *)bytes;
    size_t i = 0, n;

    /* Fast path: most command lines are already valid. */
    while (i < len && (n = utf8_sequence_length(s + i, len - i)) > 0)
        i += n;
    if (i == len)
        return json_stringn(bytes, len);

    /* Each bad byte grows to at most 3 bytes. */
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    memcpy(out, bytes, i);
    size_t o = i;
    while (i < len) {
        n = utf8_sequence_length(s + i, len - i);
        if (n == 0) {
            memcpy(out + o, replacement, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    json_t *str = json_stringn(out, o);
    free(out);
    return str;
}

int json_object_set_lossy(json_t *obj, const char *key, const char *value)
{
    json_t *str = json_string_lossy(value, strlen(value));
    if (!str || json_object_set_new(obj, key, str) != 0)
        return -ENOMEM;
    return 0;
}
