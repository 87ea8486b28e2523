/* Runs a fuzz target over every file of the directories given, without
 * libFuzzer: the seed corpus, with every input that once crashed, becomes
 * a unit test in every build (and under ASan/UBSan in the sanitizer one). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    int ret = 0;
    for (struct dirent *e; ret == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct strbuf sb = STRBUF_INIT;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (strbuf_read_file(&sb, path) < 0) {
            perror(path);
            ret = -1;
        } else {
            LLVMFuzzerTestOneInput((const uint8_t *)(sb.data ? sb.data : ""), sb.len);
            (*count)++;
        }
        strbuf_release(&sb);
    }
    closedir(d);
    return ret;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    for (int i = 1; i < argc; i++)
        if (replay_dir(argv[i], &count) < 0)
            return 1;
    printf("%zu inputs replayed\n", count);
    return count > 0 ? 0 : 1;
}
