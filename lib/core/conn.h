/* Internal: the connection object, shared by conn.c (receive side, state)
 * and send.c (send side, close, output). */
#ifndef WSG_CORE_CONN_H
#define WSG_CORE_CONN_H

#include <wsguard/core.h>

#include "core/frame.h"
#include "core/outq.h"

/* Control frames the core writes itself may exceed max_output by this. */
#define WSG__CONTROL_SLACK 65536u

enum wsg__rx { WSG__RX_HEADER = 0, WSG__RX_PAYLOAD };

struct wsg_conn {
    struct wsg_conn_config cfg;
    struct wsg_allocator alloc; /* resolved copy of cfg.alloc */

    /* Receive: the frame being parsed. */
    enum wsg__rx rx;
    uint8_t hbuf[WSG_FRAME_HEADER_MAX];
    uint8_t hlen;   /* header bytes collected */
    uint8_t hstage; /* 0 none, 1 b0 checked, 2 b1 checked, 3 length checked */
    struct wsg__frame fr;
    uint64_t rem;   /* payload bytes still due in this frame */
    size_t koff;    /* mask key offset for the next payload byte */

    /* Receive: the data message in progress (RFC 6455 section 5.4). */
    bool in_msg;
    bool stream_first; /* the next FRAGMENT event is the message's first */
    bool msg_release;  /* a message was delivered from msg_buf */
    uint8_t msg_op, msg_rsv;
    uint32_t msg_frags;
    uint64_t msg_total; /* declared payload bytes, this frame included */
    uint32_t rx_utf8;
    uint8_t *msg_buf;
    size_t msg_len, msg_cap;

    /* Receive: control frame payload (at most 125 bytes). */
    uint8_t ctrl[125];
    uint8_t ctrl_len;

    /* Closing (section 7). */
    bool close_queued, close_rcvd, failed, timed_out, deadline_armed;
    uint16_t code_sent, code_rcvd;
    uint64_t deadline;
    struct wsg__why why;

    /* Send side. */
    bool tx_in_msg;
    uint8_t tx_op_text; /* opcode of the message being sent */
    uint32_t tx_utf8;
    struct wsg__outq out;
    struct wsg__seg close_seg;
    uint8_t close_buf[WSG_FRAME_HEADER_MAX + 125];

    struct wsg_conn_stats st;
};

/* Queues a control frame written by the core (pong), within the control
 * budget. WSG_OK, WSG_ERR_AGAIN (over budget), WSG_ERR_RANDOM,
 * WSG_ERR_NOMEM. */
int wsg__conn_queue_control(struct wsg_conn *c, enum wsg_opcode op,
                       const uint8_t *data, size_t len);

/* Queues the (single) Close frame: `code` 0 for an empty body. Uses the
 * embedded segment: never allocates. WSG_OK or WSG_ERR_RANDOM. */
int wsg__conn_queue_close(struct wsg_conn *c, uint16_t code, const char *reason,
                     size_t reason_len);

/* Arms the close deadline (the earliest one wins). */
void wsg__conn_arm_deadline(struct wsg_conn *c, uint64_t now_ms);

#endif
