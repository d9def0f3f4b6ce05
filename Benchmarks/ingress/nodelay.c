/*
 * LD_PRELOAD shim for `fluxgate dev-kafka` (ingress benchmark, `--kafka-nodelay` only): sets
 * TCP_NODELAY on every socket the process accepts, i.e. on the mock brokers' side of each client
 * connection, as real Kafka brokers do (socket.setTcpNoDelay). librdkafka's mock cluster leaves
 * Nagle on, so a second small response on one connection (one per partition) waits for the
 * client's delayed ACK: about 40-50 ms per multi-partition produce round trip on loopback.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static void nd(int fd) { if (fd >= 0) { int on = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on); } }
int accept(int s, struct sockaddr *a, socklen_t *l) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = dlsym(RTLD_NEXT, "accept");
    int fd = real(s, a, l); nd(fd); return fd;
}
int accept4(int s, struct sockaddr *a, socklen_t *l, int f) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = dlsym(RTLD_NEXT, "accept4");
    int fd = real(s, a, l, f); nd(fd); return fd;
}
