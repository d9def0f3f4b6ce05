/*
 * Paced telemetry publisher for the hub latency benchmark (libmosquitto).
 *
 *   publish HOST PORT RATE SECONDS DEVICES
 *
 * Publishes RATE readings/s for SECONDS seconds, round-robin over DEVICES topics
 * devices/bench-NNNNN/telemetry, QoS 1. Each payload's `ts` is the wall clock (CLOCK_REALTIME,
 * epoch ms, truncated) read just before the publish call, so a receiver on the same machine gets
 * end-to-end latency = its receipt time - ts (an over-estimate by up to 1 ms). Pacing is by
 * schedule (reading i is due at start + i/RATE), so a stall is followed by a catch-up burst.
 * Prints "sent N late L" (L: readings published more than 5 ms after their due time) and exits 0.
 * Loopback only; bounded by SECONDS + 60 s.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: publish HOST PORT RATE SECONDS DEVICES\n"); return 2; }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    double rate = atof(argv[3]);
    double seconds = atof(argv[4]);
    int devices = atoi(argv[5]);
    if (rate <= 0 || seconds <= 0 || devices <= 0) { fprintf(stderr, "RATE, SECONDS and DEVICES must be > 0\n"); return 2; }
    mosquitto_lib_init();
    char id[64];
    snprintf(id, sizeof id, "bench-hub-pub-%d", (int)getpid());
    struct mosquitto *m = mosquitto_new(id, 1, NULL);
    if (!m || mosquitto_connect(m, host, port, 30) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "connect failed\n"); return 1; }
    mosquitto_max_inflight_messages_set(m, 1000);
    if (mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "loop_start failed\n"); return 1; }
    long total = (long)(rate * seconds), late = 0;
    long *seq = calloc((size_t)devices, sizeof(long));
    srand(1);
    double start = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < total; i++) {
        double due = start + i / rate;
        double now = clock_s(CLOCK_MONOTONIC);
        if (due > now) usleep((useconds_t)((due - now) * 1e6));
        else if (now - due > 0.005) late++;
        if (now - start > seconds + 60) { fprintf(stderr, "gave up: too slow\n"); return 1; }
        int d = (int)(i % devices);
        char topic[64], payload[256];
        snprintf(topic, sizeof topic, "devices/bench-%05d/telemetry", d);
        long long ts = (long long)(clock_s(CLOCK_REALTIME) * 1000);
        int n = snprintf(payload, sizeof payload,
            "{\"ts\":%lld,\"seq\":%ld,\"metrics\":{\"temperature\":%.2f,\"humidity\":%.1f,\"pressure\":%.2f,\"battery\":%.2f}}",
            ts, seq[d]++, 15.0 + (rand() % 2000) / 100.0, 30.0 + (rand() % 500) / 10.0,
            990.0 + (rand() % 4000) / 100.0, 3.0 + (rand() % 120) / 100.0);
        int rc;
        while ((rc = mosquitto_publish(m, NULL, topic, n, payload, 1, false)) == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_NOMEM) usleep(100);
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "publish failed: %s\n", mosquitto_strerror(rc)); return 1; }
    }
    sleep(1);
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    printf("sent %ld late %ld\n", total, late);
    return 0;
}
