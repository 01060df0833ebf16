/* A reference model of RFC 6455 framing (sections 5 and 7) for the frame
 * harnesses: from the whole wire input it predicts the events the core
 * must deliver in WSG_DELIVER_MESSAGE mode, and the failure code where it
 * must fail, and compares them with what the core reported while being fed
 * in chunks. Where the RFC leaves the order of two checks open (two
 * violations in one header), any of their codes is accepted. */
#ifndef WSG_FUZZ_MODEL_H
#define WSG_FUZZ_MODEL_H

#include "common.h"

struct fuzz_rec_event {
    enum wsg_event_type type;
    enum wsg_opcode opcode;
    uint8_t *data; /* payload, or the close reason */
    size_t len;
    uint16_t code;
};

struct fuzz_recording {
    struct fuzz_rec_event *ev;
    size_t n, cap;
};

void fuzz_recording_add(struct fuzz_recording *r, const struct wsg_event *ev);
void fuzz_recording_free(struct fuzz_recording *r);

/* Aborts if the recorded events differ from the model's. `cfg` is the
 * connection's configuration (role, limits, rsv_allowed). */
void fuzz_model_check(const struct wsg_conn_config *cfg, const uint8_t *wire,
                      size_t len, const struct fuzz_recording *rec);

#endif
