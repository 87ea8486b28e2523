/* bashreadline.h: the bashreadline probe's event, shared by its template
 * and its decoder (probes/bashreadline.c). */
#ifndef PIDTREE_BASHREADLINE_H
#define PIDTREE_BASHREADLINE_H

/* A typed line up to this many bytes with its NUL; longer ones are cut and
 * marked. */
#define PT_BASHREADLINE_MAX 4096

struct pt_bashreadline_event {
    struct pt_header h;
    __u32 cut; /* the line filled the buffer: the rest is not here */
    __u32 pad;
    char line[PT_BASHREADLINE_MAX];
};

#endif
