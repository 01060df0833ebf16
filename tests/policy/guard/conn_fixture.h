/* The fixture of the guard_messages and guard_ticks suites, defined in
 * guard_util.c: the policy, its audit recorder, the guard and connection
 * under test, and the last action. Criterion runs each test in its own
 * process, so every test starts from conn_fixture_setup(). */
#ifndef WSG_TEST_GUARD_CONN_FIXTURE_H
#define WSG_TEST_GUARD_CONN_FIXTURE_H

#include "guard_util.h"

extern struct wsg_policy P;
extern struct rec R;
extern struct wsg_guard *G;
extern struct wsg_guard_conn *C;
extern struct wsg_guard_action A;

/* .init: the default policy with the recorder attached; no guard yet. */
void conn_fixture_setup(void);

#endif
