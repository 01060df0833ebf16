/* wsguard io: POSIX adapter (placeholder while it is written). */
#ifndef WSGUARD_IO_H
#define WSGUARD_IO_H
#endif
