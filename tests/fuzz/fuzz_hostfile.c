/* Fuzzes the hosts-file parser of the sourceipmap plugin (the files it is
 * given may be edited by others), then looks up what it parsed. */
#include "../../plugins/sourceipmap.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sourceipmap_map m = {0};
    if (sourceipmap_parse(&m, (const char *)data, size) == 0) {
        sourceipmap_map_finish(&m);
        /* Every name must be found again by its address. */
        char addr[INET6_ADDRSTRLEN];
        for (size_t i = 0; i < m.n; i++) {
            inet_ntop(m.v[i].family, m.v[i].addr, addr, sizeof(addr));
            if (!sourceipmap_lookup(&m, addr))
                abort();
        }
    }
    sourceipmap_map_clear(&m);
    return 0;
}
