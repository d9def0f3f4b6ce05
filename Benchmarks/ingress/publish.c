/*
 * Fast QoS 1 telemetry publisher for the ingress benchmark (libmosquitto).
 *
 *   publish HOST PORT COUNT DEVICES [RATE] [SEED]
 *
 * Publishes COUNT readings round-robin over DEVICES topics devices/dev-NNNNN/telemetry at QoS 1
 * (RATE readings/s if given and > 0, otherwise as fast as the broker accepts), waits for every
 * PUBACK and exits 0. Paced (RATE > 0), each payload's `ts` is the wall clock (CLOCK_REALTIME,
 * epoch ms, truncated) read just before the publish call, so a consumer on this machine can take
 * record timestamp - ts as publish-to-produce latency; unpaced, `ts` is synthetic.
 * Payloads are realistic readings with 4 metrics, e.g.
 *   {"ts":1764400000123,"seq":17,"metrics":{"temperature":21.43,"humidity":45.2,"pressure":1013.25,"battery":3.71}}
 * Loopback only; bounded: gives up after 600 s.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile long acked = 0;

static void on_publish(struct mosquitto *m, void *ud, int mid) { (void)m; (void)ud; (void)mid; acked++; }

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: publish HOST PORT COUNT DEVICES [RATE] [SEED]\n"); return 2; }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    long count = atol(argv[3]);
    int devices = atoi(argv[4]);
    double rate = argc > 5 ? atof(argv[5]) : 0;
    unsigned seed = argc > 6 ? (unsigned)atoi(argv[6]) : 1;
    srand(seed);
    mosquitto_lib_init();
    char id[64];
    snprintf(id, sizeof id, "bench-pub-%d-%u", (int)getpid(), seed);
    struct mosquitto *m = mosquitto_new(id, true, NULL);
    if (!m) { perror("mosquitto_new"); return 1; }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, 0); /* unlimited in flight */
    mosquitto_publish_callback_set(m, on_publish);
    if (mosquitto_connect(m, host, port, 60) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "connect failed\n"); return 1; }
    mosquitto_threaded_set(m, true);
    double start = now_s();
    long long ts = (long long)time(NULL) * 1000;
    char topic[64], payload[256];
    for (long i = 0; i < count; i++) {
        int dev = (int)(i % devices);
        long long stamp = ts + i / 10;
        if (rate > 0) {
            struct timespec wall;
            clock_gettime(CLOCK_REALTIME, &wall);
            stamp = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        }
        long seq = i / devices;
        snprintf(topic, sizeof topic, "devices/dev-%05d/telemetry", dev);
        int n = snprintf(payload, sizeof payload,
            "{\"ts\":%lld,\"seq\":%ld,\"metrics\":{\"temperature\":%.2f,\"humidity\":%.1f,\"pressure\":%.2f,\"battery\":%.2f}}",
            stamp, seq, 15.0 + (rand() % 2000) / 100.0, 30.0 + (rand() % 500) / 10.0,
            990.0 + (rand() % 5000) / 100.0, 3.3 + (rand() % 90) / 100.0);
        int rc;
        while ((rc = mosquitto_publish(m, NULL, topic, n, payload, 1, false)) == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_NOMEM) {
            mosquitto_loop(m, 10, 1);
        }
        if (rc != MOSQ_ERR_SUCCESS) { fprintf(stderr, "publish: %s\n", mosquitto_strerror(rc)); return 1; }
        /* Drive the network every 64 messages (reads PUBACKs, writes the queue). */
        if ((i & 63) == 63) mosquitto_loop(m, 0, 1);
        if (rate > 0) {
            double due = start + (i + 1) / rate;
            while (now_s() < due) mosquitto_loop(m, 1, 1);
        } else {
            /* Keep at most 20 000 unacknowledged so memory stays bounded. */
            while (i + 1 - acked > 20000) mosquitto_loop(m, 10, 1);
        }
    }
    while (acked < count && now_s() - start < 600) mosquitto_loop(m, 10, 1);
    double took = now_s() - start;
    fprintf(stderr, "published %ld (acked %ld) in %.2f s = %.0f/s\n", count, acked, took, count / took);
    mosquitto_disconnect(m);
    mosquitto_loop(m, 10, 1);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return acked == count ? 0 : 1;
}
