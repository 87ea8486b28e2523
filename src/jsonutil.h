/* jsonutil: JSON values from untrusted bytes.
 *
 * Command lines and host names are bytes, not text: a process may put
 * newlines, quotes, NULs or invalid UTF-8 in its arguments. jansson refuses
 * invalid UTF-8, so these helpers repair it (each bad byte becomes U+FFFD)
 * and every line the daemon writes stays valid JSON.
 */
#ifndef PIDTREE_JSONUTIL_H
#define PIDTREE_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/* A JSON string from `len` arbitrary bytes; invalid UTF-8 sequences are
 * replaced by U+FFFD. New reference, or NULL on allocation failure. */
json_t *json_string_lossy(const char *bytes, size_t len);

/* Sets obj[key] to json_string_lossy(value); returns 0 or -ENOMEM. */
int json_object_set_lossy(json_t *obj, const char *key, const char *value);

/* Length of the longest valid UTF-8 sequence at the start of s (1..4), or 0
 * when s[0] does not begin a valid sequence within `len` bytes. */
size_t utf8_sequence_length(const unsigned char *s, size_t len);

#endif
