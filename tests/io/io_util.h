/* tests/io helpers: a loop driver with a deadline, a recorder for session
 * callbacks ("side"), a raw non-blocking TCP peer and a tiny frame codec,
 * so that the tests can play either end of a WebSocket by hand. */
#ifndef WSG_TEST_IO_UTIL_H
#define WSG_TEST_IO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wsguard/io.h>

/* ---- loop driver ---------------------------------------------------------- */

/* Runs wsg_loop_run_once(loop, <=5 ms) until cond(arg) holds or `ms` pass.
 * Returns whether cond held. cond NULL: just run for `ms`. */
bool run_until(struct wsg_loop *loop, int ms, bool (*cond)(void *arg),
               void *arg);
/* cond for run_until: *(int *)arg > 0. */
bool int_pos(void *arg);

/* ---- a recorder for one end (server or client) ---------------------------- */

#define SIDE_MSG_MAX (1u << 20)

struct side {
    struct wsg_loop *loop;
    struct wsg_session *s;          /* last session seen by a callback */
    char port[8];                   /* server's port, for clients */
    bool echo;                      /* echo every message back */

    int upgrades, opens, closes, refuses, msgs, controls, drains;

    enum wsg_opcode msg_op;         /* last message */
    uint8_t *msg;                   /* copy (heap, SIDE_MSG_MAX) */
    size_t msg_len;
    void *data_at_msg;              /* wsg_session_data() in on_message */
    void *data_at_open;
    char proto_at_open[64];         /* wsg_session_protocol() in on_open */
    uint64_t t_open;

    struct wsg_close_info ci;       /* last on_close, strings copied */
    char ci_reason[128];
    char ci_detail[200];
    void *data_at_close;
    uint64_t t_close;

    int ref_status, ref_err;        /* last on_refuse */
    char ref_reason[128];
    bool ref_had_request;
    uint64_t t_refuse;

    uint16_t ctl_close_code;        /* last WSG_EV_CLOSE seen in on_control */

    /* Hooks (may be NULL). on_upgrade's default accepts. */
    int (*hook_upgrade)(struct side *sd, struct wsg_session *s,
                        struct wsg_upgrade *up);
    void (*hook_open)(struct side *sd, struct wsg_session *s);
    void (*hook_message)(struct side *sd, struct wsg_session *s,
                         const struct wsg_event *ev);
    void (*hook_close)(struct side *sd, struct wsg_session *s,
                       const struct wsg_close_info *ci);
    void *user;
};

void side_init(struct side *sd, struct wsg_loop *loop);
void side_fini(struct side *sd);
void side_callbacks(struct side *sd, struct wsg_session_callbacks *cb);

/* A loop with defaults (asserts). */
struct wsg_loop *loop_new(void);
/* Frees the server (may be NULL), runs the loop until `clients` (may be
 * NULL) has seen its on_close, then frees the loop. */
void loop_finish(struct wsg_loop *loop, struct wsg_server *srv,
                 struct side *clients);

/* Server on 127.0.0.1 port "0" with sd's callbacks. */
void server_config(struct wsg_server_config *cfg, struct side *sd);
struct wsg_server *server_start(struct wsg_loop *loop,
                                const struct wsg_server_config *cfg,
                                struct side *sd);
/* Client to 127.0.0.1:sd->port with sd's callbacks. */
void client_config(struct wsg_client_config *cfg, struct side *sd,
                   uint16_t port);

/* ---- raw peer ------------------------------------------------------------- */

struct raw {
    int fd;
    uint8_t *in;                    /* everything received */
    size_t len, cap;
    bool eof;                       /* orderly FIN or reset seen */
    bool reset;                     /* ECONNRESET */
    uint64_t t_eof;
};

/* Connects (blocking) to 127.0.0.1:port, then non-blocking + TCP_NODELAY. */
void raw_connect(struct raw *r, uint16_t port);
void raw_close(struct raw *r);
/* Sends all of it (asserts). */
void raw_send(struct raw *r, const void *p, size_t n);
void raw_sends(struct raw *r, const char *s);
/* Reads what is available. */
void raw_pump(struct raw *r);
/* conds: the response head is complete; EOF seen. */
bool raw_has_head(void *r);
bool raw_has_eof(void *r);
/* Length of the response head (through CRLFCRLF), 0 if incomplete. */
size_t raw_head_len(const struct raw *r);
/* Status code of the response, 0 if none. */
int raw_status(const struct raw *r);

/* An upgrade request for 127.0.0.1:port with the RFC 6455 1.3 key
 * "dGhlIHNhbXBsZSBub25jZQ==" (accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="). */
#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
size_t upgrade_request(char *buf, size_t cap, uint16_t port,
                       const char *extra_headers);

/* ---- frames --------------------------------------------------------------- */

/* A masked client frame into out (len + 14 bytes). Returns its size. */
size_t client_frame(uint8_t *out, enum wsg_opcode op, bool fin,
                    const void *payload, size_t len, const uint8_t key[4]);

struct pframe {
    enum wsg_opcode op;
    bool fin, masked;
    const uint8_t *payload;
    size_t len;
    size_t size;                    /* header + payload */
};

/* Parses one frame at p (unmasked server frames; masked ones are reported,
 * payload left masked). false: incomplete. */
bool parse_frame(const uint8_t *p, size_t n, struct pframe *f);

/* ---- a server and a client in one loop ------------------------------------ */

struct pair {
    struct wsg_loop *loop;
    struct side srv_sd, cli_sd;
    struct wsg_server_config scfg;
    struct wsg_client_config ccfg;
    struct wsg_server *srv;
    struct wsg_session *cli;
};

void pair_init(struct pair *p);
/* Starts the server from p->scfg and prepares p->ccfg (tweak before
 * pair_connect). */
void pair_listen(struct pair *p);
void pair_connect(struct pair *p);
void pair_fini(struct pair *p);
/* cond: both ends have seen on_close. */
bool pair_both_closed(void *arg);
/* hook_open: sends "hi". */
void send_one(struct side *sd, struct wsg_session *s);

/* ---- a server and a raw peer ---------------------------------------------- */

/* Mask key of the raw peer's frames. */
extern const uint8_t RAW_KEY[4];

struct rig {
    struct wsg_loop *loop;
    struct side sd;
    struct wsg_server_config cfg;
    struct wsg_server *srv;
    uint16_t port;
    struct raw r;
    size_t off;                     /* read cursor into r.in */
};

void rig_init(struct rig *g);
void rig_listen(struct rig *g);
void rig_fini(struct rig *g);
/* Connects the raw peer, sends the upgrade, expects the 101. */
void raw_upgrade(struct rig *g);
/* Runs until the raw peer has the response head; checks a 101 with the
 * accept value of RFC_KEY; moves the cursor past it. */
void expect_101(struct rig *g);
/* The next server frame (asserts that one arrives, unmasked). */
struct pframe next_frame(struct rig *g);
void expect_frame(struct rig *g, enum wsg_opcode op, const void *data,
                  size_t len);
uint16_t close_code_of(const struct pframe *f);

/* Deterministic payload byte i of message `seq`. */
static inline uint8_t pattern(uint32_t seq, size_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

#endif
